"""The schema check the services run instead of migrating, on temporary SQLite files: what it says when the schema
is behind, that it never migrates a database holding anything, and ``radar db upgrade | status``."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from typer.testing import CliRunner

from core.errors import StorageError
from storage.db import head_revision, make_engine, require_current_schema, schema_problem, schema_revision, upgrade

ROOT = Path(__file__).resolve().parents[2]


def _engine(path: Path, revision: str | None = None) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    if revision:
        upgrade(engine, revision=revision)
    return engine


def test_a_schema_behind_names_the_command_to_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = _engine(tmp_path / "radar.db", revision="0001")
    expected = f"database schema is at 0001, this release needs {head_revision()}: run `radar db upgrade`"
    problem = schema_problem(engine)
    assert problem is not None and problem.startswith(expected) and str(tmp_path) in problem, problem
    with caplog.at_level(logging.ERROR, logger="radar.storage"), pytest.raises(StorageError, match=expected):
        require_current_schema(engine)
    with pytest.raises(StorageError):  # retried: raised again, logged once a minute only
        require_current_schema(engine)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [problem]
    assert schema_revision(engine).current == "0001"  # checked, never migrated
    upgrade(engine)
    assert schema_problem(engine) is None and schema_revision(engine).up_to_date
    require_current_schema(engine)
    engine.dispose()


def test_a_database_holding_tables_is_never_migrated_by_the_check(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "radar.db")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
    with pytest.raises(StorageError, match=r"at no revision \(never migrated\).*run `radar db upgrade`"):
        require_current_schema(engine)
    assert inspect(engine).get_table_names() == ["notes"]
    engine.dispose()


def test_a_revision_from_a_newer_release_is_not_an_upgrade(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "radar.db", revision="head")
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    problem = schema_problem(engine)
    assert problem is not None and "at 9999, which this release does not know" in problem, problem
    assert "radar db upgrade" not in problem and not schema_revision(engine).known
    engine.dispose()


def test_a_new_sqlite_file_is_created_at_head_on_first_use(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "new" / "radar.db")
    assert "never migrated" in (schema_problem(engine) or "")
    require_current_schema(engine)
    assert schema_problem(engine) is None
    assert {"alerts", "webhook_subscriptions", "webhook_deliveries"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_processes_starting_together_on_a_new_sqlite_file_create_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    script = (
        "import sys, time\n"
        "from storage.db import make_engine, require_current_schema\n"
        "engine = make_engine(sys.argv[1])\n"
        "while time.time() < float(sys.argv[2]):\n"
        "    time.sleep(0.001)\n"
        "require_current_schema(engine)\n"
    )
    start = f"{time.time() + 3:.3f}"  # every process imported and waiting: they open the file together
    procs = [
        subprocess.Popen([sys.executable, "-c", script, url, start], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n---\n".join(outputs)
    assert sum("created the schema" in o for o in outputs) == 1, outputs
    engine = make_engine(url)
    assert schema_problem(engine) is None
    engine.dispose()


def test_radar_db_status_and_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cli.db import db_app

    engine = _engine(tmp_path / "radar.db", revision="0001")
    engine.dispose()
    monkeypatch.setenv("RADAR_DATABASE_URL", f"sqlite:///{tmp_path / 'radar.db'}")
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()
    behind = runner.invoke(db_app, ["status"])
    assert behind.exit_code == 1 and "current:  0001" in behind.output and "radar db upgrade" in behind.output
    upgraded = runner.invoke(db_app, ["upgrade"])
    assert upgraded.exit_code == 0 and f"schema at revision {head_revision()} (from 0001)" in upgraded.output
    current = runner.invoke(db_app, ["status"])
    assert current.exit_code == 0 and "up to date" in current.output, current.output


def test_webhook_commands_check_the_schema_and_leave_it_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cli.webhooks import webhooks_app

    engine = _engine(tmp_path / "radar.db", revision="0001")
    monkeypatch.setenv("RADAR_DATABASE_URL", f"sqlite:///{tmp_path / 'radar.db'}")
    result = CliRunner().invoke(webhooks_app, ["list"])
    assert isinstance(result.exception, StorageError) and "radar db upgrade" in str(result.exception)
    assert schema_revision(engine).current == "0001"
    engine.dispose()


def test_the_switch_to_wal_waits_for_a_process_that_holds_the_file_and_passes_other_errors_on() -> None:
    """SQLite answers a journal-mode switch it cannot take now with "database is locked" at once, without its busy
    handler (two processes converting one new file at the same moment): the engine's connect looks again."""
    import sqlite3

    from storage.db import _wal

    class Cursor:
        def __init__(self, errors: list[str]) -> None:
            self.errors, self.calls = errors, 0

        def execute(self, sql: str) -> None:
            self.calls += 1
            if self.errors:
                raise sqlite3.OperationalError(self.errors.pop(0))

    busy = Cursor(["database is locked", "database is locked"])
    _wal(busy)
    assert busy.calls == 3
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _wal(Cursor(["disk I/O error"]))
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _wal(Cursor(["database is locked"] * 1000), wait_s=0.05)
