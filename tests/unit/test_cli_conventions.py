"""The command line's conventions: --version, exit 1 for a runtime error and 2 for a usage error, and a console
that carries only what a person needs (library logs go to a file)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from services.cli.console_logging import send_library_logs_to_file

ROOT = Path(__file__).resolve().parents[2]


def _radar(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "RADAR_VAR_DIR": str(cwd / "var"), "HOME": str(cwd)},
    )


def test_version_prints_the_package_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"radar {version('opinion-radar')}"


def test_usage_errors_exit_2_and_runtime_errors_exit_1(tmp_path: Path) -> None:
    assert _radar("no-such-command", cwd=tmp_path).returncode == 2
    assert _radar("detect", "--input", str(tmp_path / "missing.csv"), "-o", "x.csv", cwd=tmp_path).returncode == 2
    folder = tmp_path / ("a-folder-with-a-long-name-" * 4)  # wider than the 80 columns of a pipe: not hard-wrapped
    folder.mkdir()
    bad = folder / "bad.csv"
    bad.write_text("timestamp,value\nnot-a-time,1\n")
    broken = _radar("detect", "--input", str(bad), "--output", str(tmp_path / "out.csv"), cwd=tmp_path)
    assert broken.returncode == 1 and f"{bad}:2" in broken.stdout + broken.stderr


def test_library_logs_go_to_the_file_and_not_the_console(tmp_path: Path, capfd) -> None:  # type: ignore[no-untyped-def]
    path = send_library_logs_to_file(tmp_path / "cli.log")
    root = logging.getLogger()
    try:
        logging.getLogger("kafka.coordinator").warning("Heartbeat failed: member metadata b'\\x00\\x01'")
        logging.getLogger("kafka.coordinator.assignors.range").info("No partition metadata for topic")
        for handler in root.handlers:
            handler.flush()
        out, err = capfd.readouterr()
        assert "Heartbeat" not in out + err and "partition metadata" not in out + err
        logged = path.read_text()
        assert "kafka.coordinator: Heartbeat failed" in logged and "No partition metadata" in logged
    finally:
        for handler in [h for h in root.handlers if isinstance(h, logging.FileHandler)]:
            root.removeHandler(handler)
            handler.close()


def test_webhooks_list_speaks_json_for_scripts(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'radar.db'}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RADAR_DATABASE_URL": database}

    def radar(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "services.cli", *args]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)

    assert json.loads(radar("webhooks", "list", "--json").stdout) == []
    added = radar("webhooks", "add", "oncall", "http://127.0.0.1:9/hook", "--allow-private", "--min-severity", "high")
    assert added.returncode == 0, added.stdout + added.stderr
    (listed,) = json.loads(radar("webhooks", "list", "--json").stdout)
    assert listed["name"] == "oncall" and listed["min_severity"] == "high" and "secret" not in listed
