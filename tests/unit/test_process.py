"""The supervisor signals only what it started, and reports a dead start with the log's tail."""

import os
import sys

import pytest

from core.errors import StackError
from localdev.stack.process import ManagedProcess


def test_start_stop_by_pid_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = ManagedProcess("sleeper", run_dir=tmp_path / "run", log_dir=tmp_path / "log")
    pid = proc.start([sys.executable, "-c", "import time; print('hi', flush=True); time.sleep(60)"])
    assert proc.pid() == pid
    proc.wait_ready(lambda: "hi" in proc.log_file.read_text(), timeout_s=10)
    assert proc.stop(timeout_s=5) is True
    assert proc.pid() is None and not proc.pid_file.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert proc.stop() is False  # nothing of ours left to stop


def test_process_dying_during_start_reports_log(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = ManagedProcess("crasher", run_dir=tmp_path / "run", log_dir=tmp_path / "log")
    proc.start([sys.executable, "-c", "import sys; print('bad config line 3'); sys.exit(3)"])
    with pytest.raises(StackError, match="exited during start-up") as info:
        proc.wait_ready(lambda: False, timeout_s=10)
    assert "bad config line 3" in info.value.log_tail
    assert proc.stop() is False


def test_stale_pid_file_is_not_trusted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = ManagedProcess("ghost", run_dir=tmp_path, log_dir=tmp_path)
    proc.pid_file.write_text("999999\n")
    assert proc.pid() is None
    assert not proc.pid_file.exists()


def test_dropped_variables_do_not_reach_the_service(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RADAR_POSTGRES_URL", "postgresql://radar:secret@127.0.0.1/radar")
    monkeypatch.setenv("KEPT_VARIABLE", "kept")
    proc = ManagedProcess("envdump", run_dir=tmp_path / "run", log_dir=tmp_path / "log")
    script = (
        "import os, time; print(sorted(k for k in os.environ if k.startswith(('RADAR_', 'KEPT_'))), flush=True);"
        " time.sleep(60)"
    )
    proc.start([sys.executable, "-c", script], drop_env=("RADAR_",))
    proc.wait_ready(lambda: "]" in proc.log_file.read_text(), timeout_s=10)
    assert "['KEPT_VARIABLE']" in proc.log_file.read_text()
    assert proc.stop(timeout_s=5) is True
