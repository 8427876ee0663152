"""``make test``: the reliability tier on a local stack of its own, beside the other tiers on the usual one.

    uv run python -m localdev.tiers [PYTEST_ARGS...]

The fault and chaos tests kill -9 and restart Kafka, Redis, PostgreSQL and Triton; on the stack every other test
uses, they could only run after the rest, and the suite took the sum of both (about 7 minutes each on 2 cores).
Here they get a second stack: the same services under ``var/reliability`` on ports of their own
(:data:`RELIABILITY_STACK`, as ``RADAR_*`` variables, so the tests, the services and ``radar stack`` read them as
they read any setting). Both pytest runs start at once; the first prints as it goes, the reliability run's output is
kept in ``var/log/tests-reliability.log`` and printed when it ends. The exit status is the worse of the two, and the
reliability stack is stopped afterwards (the usual one stays up, as ``make stack`` left it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from core.settings import Settings
from core.signals import stopping_on_signals

__all__ = ["RELIABILITY_STACK", "main", "reliability_env"]

# ports clear of the usual stack's, of a second checkout's demo and of the fault tests' own Redis/Triton (16379,
# 18100-18102)
RELIABILITY_STACK = {
    "RADAR_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
    "RADAR_KAFKA_CONTROLLER_PORT": "29093",
    "RADAR_REDIS_URL": "redis://127.0.0.1:26379/0",
    "RADAR_POSTGRES_URL": "postgresql+psycopg://radar:radar@127.0.0.1:25432/radar",
    "RADAR_TRITON_GRPC_URL": "127.0.0.1:28001",
    "RADAR_TRITON_HTTP_PORT": "28000",
    "RADAR_TRITON_METRICS_PORT": "28002",
    "RADAR_WORKER_METRICS_PORT": "29108",
    "RADAR_DISPATCHER_METRICS_PORT": "29109",
    "RADAR_API_PORT": "28080",
    "RADAR_LOCAL_ALERTMANAGER_PORT": "29094",
    "RADAR_LOCAL_PROMETHEUS_PORT": "29095",
    "RADAR_TRITON_TINY_ONLY": "true",  # the fault tests score with the tiny models; their restarts load only those
}


def reliability_env(base: dict[str, str], var_dir: Path) -> dict[str, str]:
    """The environment of the reliability run: the caller's, with the second stack's addresses and ``var`` folder.

    >>> env = reliability_env({"PATH": "/bin", "RADAR_REDIS_URL": "redis://elsewhere"}, Path("/r/var"))
    >>> env["RADAR_REDIS_URL"], env["RADAR_VAR_DIR"], env["PATH"]
    ('redis://127.0.0.1:26379/0', '/r/var/reliability', '/bin')
    """
    return {**base, **RELIABILITY_STACK, "RADAR_VAR_DIR": str(var_dir / "reliability")}


def _pytest(args: list[str], marker: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-m", marker, *args]


def _wait_all(children: dict[str, subprocess.Popen[bytes]], began: float) -> dict[str, tuple[int, float]]:
    """Each child's exit status and the seconds it took, as each ends (not when the one waited on first ends)."""
    ended: dict[str, tuple[int, float]] = {}
    while len(ended) < len(children):
        for name, child in children.items():
            if name not in ended and child.poll() is not None:
                ended[name] = (child.returncode, time.monotonic() - began)
        time.sleep(0.5)
    return ended


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    var_dir = Settings().var_dir.resolve()
    log = var_dir / "log" / "tests-reliability.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = reliability_env(dict(os.environ), var_dir)
    print(f"the reliability tier runs beside the others, on its own stack (var/reliability); its output: {log}")
    began = time.monotonic()
    with log.open("wb") as out:
        children = {
            "reliability": subprocess.Popen(
                _pytest(args, "reliability"), env=env, stdout=out, stderr=subprocess.STDOUT
            ),
            "others": subprocess.Popen(_pytest(args, "not reliability")),
        }
        try:
            with stopping_on_signals():
                ended = _wait_all(children, began)
        except KeyboardInterrupt:
            for child in children.values():
                child.terminate()
            ended = {name: (max(child.wait(), 1), time.monotonic() - began) for name, child in children.items()}
    print(f"\n{'=' * 30} reliability tier (its own stack) {'=' * 30}", flush=True)
    sys.stdout.buffer.write(log.read_bytes())
    sys.stdout.flush()
    down = subprocess.run(
        [sys.executable, "-m", "services.cli", "stack", "down"], env=env, capture_output=True, check=False
    )
    (others_rc, others_s), (reliability_rc, reliability_s) = ended["others"], ended["reliability"]
    print(
        f"\ntiers: unit, doctests and integration {others_s:.0f} s (exit {others_rc}); "
        f"reliability {reliability_s:.0f} s (exit {reliability_rc}); "
        f"reliability stack stopped (exit {down.returncode})"
    )
    return max(others_rc, reliability_rc)


if __name__ == "__main__":
    raise SystemExit(main())
