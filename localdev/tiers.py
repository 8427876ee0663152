"""``make test``: the linters, both local stacks and the test tiers, all at once.

    uv run python -m localdev.tiers [PYTEST_ARGS...]     # what make test runs
    uv run python -m localdev.tiers --lint               # the linters alone (make lint)

The fault and chaos tests kill -9 and restart Kafka, Redis, PostgreSQL and Triton; on the stack every other test
uses, they could only run after the rest. Here they get a second stack: the same services under
``var/reliability`` on ports of their own (:data:`RELIABILITY_STACK`, as ``RADAR_*`` variables, so the tests, the
services and ``radar stack`` read them as they read any setting).

Every step starts at once: on 2 cores much of a step's time is waiting (on a JVM, a model loading, a minute to
close), which the others fill. The reliability tier is the longest chain, so it and the stacks run at the usual
CPU priority and the rest at a lower one (:data:`BACKGROUND`). The steps:

- the unit, doctest and integration tiers under pytest-xdist, one process per core (their topics, consumer groups,
  Redis prefixes and databases are per test); unit tests and doctests come first and need no stack;
- the reliability tier in one process (its tests kill the services they share);
- ``radar stack up`` for each stack, the reliability one first (a test that needs a stack waits on the stack's
  lock until it is up, then finds it running);
- the linters.

The first step prints as it goes; the others' output is kept in ``var/log/make-test-*.log`` (the reliability
tier's in ``var/log/tests-reliability.log``) and printed when all have ended. The exit status is the worst of the
steps; the reliability stack is stopped afterwards (the usual one stays up, as ``make stack`` leaves it). The last
lines are each step's time, for the README's figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings
from core.signals import stopping_on_signals

__all__ = ["LINT", "RELIABILITY_STACK", "Step", "main", "reliability_env", "run_side_by_side"]

# ports clear of the usual stack's, of a second checkout's demo and of the Redis fault test's own Redis (16379)
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
RELIABILITY_TESTS = "tests/reliability"
PACKAGES = ("core", "services", "localdev", "stream", "inference", "storage", "bench")
LINT: tuple[tuple[str, ...], ...] = (("ruff", "check", "."), ("mypy", *PACKAGES))
# one pytest process per core, each taking the next test as it frees up (the tier's tests differ 1000-fold in
# length); PYTEST_XDIST_AUTO_NUM_WORKERS overrides the count
XDIST = ("-n", "auto", "--dist", "worksteal")
# The reliability tier is the longest chain (its stack's start, then one test after another, each mostly waiting
# on its pipeline) and the others are many independent tests: with the CPU saturated, the chain and the stacks get
# the cores first and the rest fill every gap it leaves (the niceness of the linters and the xdist tier)
BACKGROUND = 10


def reliability_env(base: dict[str, str], var_dir: Path) -> dict[str, str]:
    """The environment of the reliability run: the caller's, with the second stack's addresses and ``var`` folder.

    >>> env = reliability_env({"PATH": "/bin", "RADAR_REDIS_URL": "redis://elsewhere"}, Path("/r/var"))
    >>> env["RADAR_REDIS_URL"], env["RADAR_VAR_DIR"], env["PATH"]
    ('redis://127.0.0.1:26379/0', '/r/var/reliability', '/bin')
    """
    return {**base, **RELIABILITY_STACK, "RADAR_VAR_DIR": str(var_dir / "reliability")}


@dataclass(frozen=True)
class Step:
    """One command: ``argv`` in ``env``; its output to the terminal (``log`` None) or to ``log``; ``nice`` lowers
    its CPU priority (and its children's); ``after`` names a step it starts behind (once that one has ended)."""

    name: str
    argv: Sequence[str]
    env: dict[str, str]
    log: Path | None = None
    nice: int = 0
    after: str | None = None


@dataclass(frozen=True)
class Ended:
    code: int
    seconds: float


def _start(step: Step) -> subprocess.Popen[bytes]:
    argv = ["nice", "-n", str(step.nice), *step.argv] if step.nice else list(step.argv)
    if step.log is None:
        return subprocess.Popen(argv, env=step.env)
    step.log.parent.mkdir(parents=True, exist_ok=True)
    with step.log.open("wb") as out:
        return subprocess.Popen(argv, env=step.env, stdout=out, stderr=subprocess.STDOUT)


def run_side_by_side(steps: Sequence[Step], poll_s: float = 0.2) -> dict[str, Ended]:
    """Start every step at once (one with ``after``, once that one has ended) and wait for all; each step's exit
    status and seconds from the start, taken as it ends. On Ctrl-C, SIGTERM or SIGHUP the steps still running are
    terminated and count as failed, and those not started yet do not start.

    >>> steps = [Step("ok", ["true"], {}), Step("no", ["false"], {}), Step("then", ["true"], {}, after="no")]
    >>> {name: e.code for name, e in run_side_by_side(steps, poll_s=0.01).items()}
    {'ok': 0, 'no': 1, 'then': 0}
    """
    began = time.monotonic()
    children: dict[str, subprocess.Popen[bytes]] = {}
    ended: dict[str, Ended] = {}
    try:
        with stopping_on_signals():
            while len(ended) < len(steps):
                for step in steps:
                    if step.name not in children and (step.after is None or step.after in ended):
                        children[step.name] = _start(step)
                for name, child in children.items():
                    if name not in ended and child.poll() is not None:
                        ended[name] = Ended(child.returncode, time.monotonic() - began)
                time.sleep(poll_s)
    except KeyboardInterrupt:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for step in steps:
            started = children.get(step.name)
            ended.setdefault(step.name, Ended(max(started.wait(), 1) if started else 1, time.monotonic() - began))
    return {step.name: ended[step.name] for step in steps}


def _show_logs(steps: Sequence[Step]) -> None:
    for step in steps:
        if step.log is not None and step.log.exists():
            print(f"\n{'=' * 30} {step.name} ({step.log}) {'=' * 30}", flush=True)
            sys.stdout.buffer.write(step.log.read_bytes())
            sys.stdout.flush()


def _lint_steps(env: dict[str, str], logs: Path) -> list[Step]:
    return [
        Step(argv[0], [sys.executable, "-m", *argv], env, logs / f"make-test-{argv[0]}.log", BACKGROUND)
        for argv in LINT
    ]


def _pytest(marker: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-m", marker, *args]


def _own_folder(args: list[str]) -> list[str]:
    """The reliability run's arguments: its own folder unless paths were given (collecting every test module and
    doctest only to deselect them was ten CPU-seconds).

    >>> _own_folder(["-x"])
    ['tests/reliability', '-x']
    >>> _own_folder([__file__, "-x"]) == [__file__, "-x"]
    True
    """
    paths = [a for a in args if not a.startswith("-") and Path(a.split("::")[0]).exists()]
    return args if paths else [RELIABILITY_TESTS, *args]


def _radar(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli", *args]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    var_dir = Settings().var_dir.resolve()
    logs = var_dir / "log"
    if args == ["--lint"]:
        lint = _lint_steps(env, logs)
        ended = run_side_by_side(lint)
        _show_logs(lint)
        return max(e.code for e in ended.values())
    reliability = reliability_env(env, var_dir)
    steps = [
        Step("unit, doctest, integration", _pytest("not reliability", *XDIST, *args), env, nice=BACKGROUND),
        Step("reliability", _pytest("reliability", *_own_folder(args)), reliability, logs / "tests-reliability.log"),
        Step("reliability stack up", _radar("stack", "up"), reliability, logs / "make-test-reliability-stack.log"),
        # behind the reliability stack: the chain's first test waits for that one, and the usual stack's first
        # user only after a minute of unit tests
        Step("stack up", _radar("stack", "up"), env, logs / "make-test-stack.log", after="reliability stack up"),
        *_lint_steps(env, logs),
    ]
    print("the linters, both stacks and the tiers start at once; the reliability tier on its own stack", flush=True)
    timings = run_side_by_side(steps)
    _show_logs(steps)
    down = subprocess.run(_radar("stack", "down"), env=reliability, capture_output=True, check=False)
    print("\nmake test, step by step (seconds from the start; every step ran side by side):")
    for name, e in timings.items():
        print(f"  {name:32} {e.seconds:6.0f} s  exit {e.code}")
    print(f"  reliability stack stopped (exit {down.returncode})", flush=True)
    return max(e.code for e in timings.values())


if __name__ == "__main__":
    raise SystemExit(main())
