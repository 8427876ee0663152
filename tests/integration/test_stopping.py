"""Every command stops what it started on SIGINT, SIGTERM and SIGHUP alike (what Ctrl-C, ``timeout``/systemd/CI
and a closed terminal send): no child survives it, and each stops within its grace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from localdev.serve import free_port
from localdev.workers import ROOT
from storage.db import make_engine, upgrade


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` (from /proc; children in sessions of their own included)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_the_dispatcher_and_the_api_stop_on_sigterm_and_sighup(stack: Settings, tmp_path: Path, sig: int) -> None:
    db = f"sqlite:///{tmp_path / 'radar.db'}"
    engine = make_engine(db)
    upgrade(engine)
    engine.dispose()
    port = free_port()
    env = {**os.environ, **stack.to_env(), "RADAR_DATABASE_URL": db, "RADAR_DISPATCHER_METRICS_PORT": "0"}
    dispatcher = _spawn(["dispatcher"], env, tmp_path / "dispatcher.log")
    api = _spawn(["api", "--port", str(port)], env, tmp_path / "api.log")
    try:
        _wait(lambda: "dispatcher running" in (tmp_path / "dispatcher.log").read_text(), 60, "the dispatcher")
        _wait(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 60, "the API")
        for proc in (dispatcher, api):
            proc.send_signal(sig)
        assert dispatcher.wait(timeout=30) == 0, (tmp_path / "dispatcher.log").read_text()[-2000:]
        # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught so the exit status tells the signal
        assert api.wait(timeout=30) in (0, -signal.SIGTERM), (tmp_path / "api.log").read_text()[-2000:]
    finally:
        for proc in (dispatcher, api):
            if proc.poll() is None:
                proc.kill()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_worker_stops_on_sighup(fresh_topics, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = fresh_topics()
    env = {**os.environ, **settings.to_env(), "RADAR_WORKER_METRICS_PORT": "0"}
    worker = _spawn(["worker", "--agents", "score", "--loglevel", "info"], env, tmp_path / "worker.log")
    try:
        _wait(lambda: "Ready" in (tmp_path / "worker.log").read_text(), 90, "the worker")
        worker.send_signal(signal.SIGHUP)
        assert worker.wait(timeout=settings.worker_stop_grace_s + 15) == 0
    finally:
        if worker.poll() is None:
            worker.kill()


def test_stack_up_interrupted_stops_what_it_started(stack: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        **stack.to_env(),
        "RADAR_VAR_DIR": str(tmp_path / "var"),
        "RADAR_LOCAL_ALERTMANAGER_PORT": str(free_port()),
    }
    up = _spawn(["stack", "up", "--only", "alertmanager"], env, tmp_path / "up.log")
    pid_file = tmp_path / "var" / "run" / "alertmanager.pid"
    try:
        _wait(pid_file.exists, 60, "Alertmanager to start")
        started = int(pid_file.read_text().split()[0])
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) in (0, 130), (tmp_path / "up.log").read_text()  # 0: it was ready already
        if up.returncode == 130:
            _wait(lambda: not _alive(started), 30, "Alertmanager to stop")
    finally:
        subprocess.run(
            [sys.executable, "-m", "services.cli", "stack", "down", "--only", "alertmanager"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )


def test_the_demo_stopped_by_sigterm_leaves_nothing_running(stack: Settings, tmp_path: Path) -> None:
    env = {**os.environ, **stack.to_env()}
    demo = _spawn(
        ["demo", "--headless", "--model", "tiny", "--workers", "1", "--duration", "600"], env, tmp_path / "demo.log"
    )
    try:
        _wait(lambda: "replaying" in (tmp_path / "demo.log").read_text(), 240, "the demo to stream")
        children = _children(demo.pid)
        assert len(children) >= 3, children  # a worker, the dispatcher and the API at least
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=90)
        survivors = {pid for pid in children if _alive(pid)}
        assert not survivors, (survivors, (tmp_path / "demo.log").read_text()[-3000:])
    finally:
        if demo.poll() is None:
            demo.kill()
        for pid in children | _children(demo.pid):  # whatever survived a failed run must not outlive the test
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
