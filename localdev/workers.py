"""Real ``radar`` processes (workers, the dispatcher) for the demo, tests and benchmarks, configured through
RADAR_* variables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from core.settings import Settings

__all__ = ["ROOT", "running_worker", "spawn_radar"]

ROOT = Path(__file__).resolve().parents[1]


def spawn_radar(args: list[str], *, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``radar *args`` as a child in a session of its own (so it is stopped with its children as one group),
    its output appended to ``log``: one way to start them, whoever starts them."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", *args],
            cwd=ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def running_worker(
    settings: Settings, log: Path, *, extra: dict[str, str] | None = None, agents: str = "score,aggregate"
) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **settings.to_env(), "RADAR_WORKER_METRICS_PORT": "0", **(extra or {})}
    proc = spawn_radar(["worker", "--loglevel", "warn", "--agents", agents], env=env, log=log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
