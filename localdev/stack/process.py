"""Supervision of one local service process: PID file, log file, readiness wait, stop.

``down`` must stop only what ``up`` started, never anything found by name, so every process we start is
recorded in ``var/run/<name>.pid`` together with its start marker and nothing else is ever signalled.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import StackError

__all__ = ["ManagedProcess", "tail", "wait_until"]

# Services outlive the command that started them, but while that command runs it is their parent: keeping the
# Popen objects lets `stop()` reap them (no zombies) and keeps Python from warning about "still running" children.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


@atexit.register
def _detach_children() -> None:
    """Services are meant to outlive the command that started them (their PID files track them): mark the
    ones still running as detached, so Python does not report them as leaked subprocesses."""
    for proc in _CHILDREN.values():
        if proc.poll() is None:
            proc.returncode = 0


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` of a log file, for error messages."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            return "\n".join(handle.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_until(check: Callable[[], bool], *, timeout_s: float, interval_s: float = 0.25) -> bool:
    """Poll ``check`` until it returns True or the time is up; exceptions count as 'not yet'."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return True
        except Exception:  # noqa: BLE001 - a failing probe means 'not ready yet'
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


@dataclass
class ManagedProcess:
    """A long-running service started in its own session, so signals reach it and all its children."""

    name: str
    run_dir: Path
    log_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The recorded PID if that process is still alive, else None (and a stale PID file is removed)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return None
        except PermissionError:
            return pid
        if _is_zombie(pid):
            child = _CHILDREN.pop(pid, None)
            if child is not None:
                child.wait(timeout=5)
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def start(
        self,
        argv: Sequence[str],
        *,
        extra_env: dict[str, str] | None = None,
        user: str | None = None,
        drop_env: tuple[str, ...] = (),
    ) -> int:
        """Start ``argv`` in a new session (as ``user`` when we are root), output appended to the log; inherited
        variables whose names start with one of ``drop_env`` are left out of its environment."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if not (drop_env and k.startswith(drop_env))}
        env = {**inherited, **(extra_env or {})}
        argv = list(argv)
        if user and os.geteuid() == 0:
            argv = ["runuser", "-u", user, "--", *argv]
        with self.log_file.open("ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def exited_early(self) -> bool:
        return self.pid() is None

    def stop(self, timeout_s: float = 20.0, stop_signal: int = signal.SIGTERM) -> bool:
        """Signal the process group we started, SIGKILL after ``timeout_s``; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, stop_signal)
        if not wait_until(lambda: not _alive(pid), timeout_s=timeout_s, interval_s=0.1):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            wait_until(lambda: not _alive(pid), timeout_s=5, interval_s=0.1)
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            child.wait(timeout=5)
        self.pid_file.unlink(missing_ok=True)
        return True

    def wait_ready(self, check: Callable[[], bool], *, timeout_s: float) -> None:
        """Wait for readiness; fail fast if the process died, with the log's tail either way."""
        deadline = time.monotonic() + timeout_s
        last_error = "the probe answered 'not ready'"
        while time.monotonic() < deadline:
            if self.exited_early():
                raise StackError(self.name, "the process exited during start-up", tail(self.log_file))
            try:
                if check():
                    return
            except Exception as exc:  # noqa: BLE001 - not ready yet; kept for the message
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.25)
        message = f"not ready after {timeout_s:.0f} s (last probe: {last_error})"
        raise StackError(self.name, message, tail(self.log_file))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        # a child of ours that exited but was not reaped yet still answers kill(0)
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
