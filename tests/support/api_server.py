"""The real API for HTTP tests: in a thread (uvicorn, lifespan on), or as ``radar api`` in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from core.settings import Settings
from localdev.serve import free_port, serve_in_thread
from services.api.app import create_app


@contextmanager
def running_api(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings)) as base:
        yield base


@contextmanager
def api_process(settings: Settings, log: Path, *, workers: int = 1) -> Iterator[tuple[str, int]]:
    """``radar api`` as a process of its own (base URL, pid): what a deployment runs, and whose memory one can read."""
    port = free_port()
    env = {**os.environ, **settings.to_env()}
    command = [sys.executable, "-m", "services.cli", "api", "--port", str(port), "--workers", str(workers)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"radar api did not start:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (the peak resident so far) of a process, in KiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields
