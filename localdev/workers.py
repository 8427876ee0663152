"""Real ``radar worker`` processes for tests and benchmarks, configured through RADAR_* variables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def running_worker(
    settings: Settings, log: Path, *, extra: dict[str, str] | None = None, agents: str = "score,aggregate"
) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, **settings.to_env(), "RADAR_WORKER_METRICS_PORT": "0", **(extra or {})}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "worker", "--loglevel", "warn", "--agents", agents],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
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
