"""Engines, sessions, migrations and the schema check. Nothing connects at import time; entry points call
:func:`make_engine`.

Migrations run in one place: ``radar db upgrade`` (the deployment's init job, the demo and the test fixtures call
the same :func:`upgrade`). The services never migrate a database that holds anything: at start (the API), on first
use (the worker's SQL sink, the dispatcher's first round) or per command (``radar webhooks``) they call
:func:`require_current_schema`, which raises :class:`~core.errors.StorageError` naming the command to run when the
schema is behind. The one exception is the zero-config local run: a SQLite database with no tables at all (the
default ``sqlite:///var/radar.db`` before anything ran) is created at the newest revision by whichever process
opens it first, under SQLite's exclusive lock, so ``radar api`` works out of the box. PostgreSQL, and any SQLite
database that has tables, is never migrated by a service.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import StorageError

__all__ = [
    "SchemaRevision",
    "head_revision",
    "make_engine",
    "make_sessionmaker",
    "require_current_schema",
    "schema_problem",
    "schema_revision",
    "upgrade",
]

log = logging.getLogger("radar.storage")
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ALEMBIC = threading.Lock()  # alembic's migration context is process-global: one migration at a time per process
_LOG_EVERY_S = 60.0
_last_logged: dict[str, float] = {}  # problem text -> when it was last logged (a retrying caller logs once a minute)


def make_engine(url: str) -> Engine:
    """An engine with sensible pools; SQLite gets WAL and a busy timeout so a worker and the API share it."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            _wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _wal(cursor: Any, wait_s: float = 30.0) -> None:
    """Switch a SQLite file to WAL, waiting for a process that holds it.

    Why a loop: the switch needs the file to itself, and SQLite answers "database is locked" at once there instead
    of calling the busy handler; processes starting together on a new file (a worker, the API, a dispatcher) met
    it while the first of them was creating the schema under its exclusive lock."""
    deadline = time.monotonic() + wait_s
    pause = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, *, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent). What ``radar db upgrade`` runs; services do not call it."""
    with engine.begin() as connection:
        _migrate(connection, revision)


def _migrate(connection: Connection, revision: str) -> None:
    config = alembic_config(connection.engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    with _ALEMBIC:
        command.upgrade(config, revision)


@functools.cache
def head_revision() -> str:
    """The newest migration of this release (what the code needs)."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the migrations ship with the code
        raise StorageError(f"no Alembic migrations under {_MIGRATIONS}")
    return head


@dataclass(frozen=True)
class SchemaRevision:
    """Where a database's schema stands: ``current`` is what it records (None: never migrated), ``head`` what this
    release needs, ``known`` whether ``current`` is one of this release's migrations (False: a newer release's)."""

    current: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def schema_revision(engine: Engine) -> SchemaRevision:
    """Read the database's Alembic revision (connects; raises SQLAlchemy's error when the database is away)."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    head = head_revision()
    if current is None or current == head:
        return SchemaRevision(current, head, known=True)
    try:
        known = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(current) is not None
    except CommandError:
        known = False
    return SchemaRevision(current, head, known=known)


def schema_problem(engine: Engine) -> str | None:
    """None when the database is at this release's revision; otherwise what is wrong and what to run."""
    state = schema_revision(engine)
    if state.up_to_date:
        return None
    where = f"database: {engine.url.render_as_string(hide_password=True)}"
    if not state.known:
        return (
            f"database schema is at {state.current}, which this release does not know (it needs {state.head}): "
            f"a newer release migrated it; run that release ({where})"
        )
    current = state.current or "no revision (never migrated)"
    return f"database schema is at {current}, this release needs {state.head}: run `radar db upgrade` ({where})"


def require_current_schema(engine: Engine) -> None:
    """Raise StorageError (logged, at most once a minute per problem) unless the schema is at this release's
    revision. A SQLite database with no tables yet is created at the newest revision instead (zero-config local
    runs); nothing else is ever migrated here. An unreachable database raises SQLAlchemy's error, to retry."""
    problem = schema_problem(engine)
    if problem is not None and engine.dialect.name == "sqlite":
        if _create_empty_sqlite_with_retries(engine):
            return
        problem = schema_problem(engine)  # another process may just have created it
    if problem is None:
        return
    now = time.monotonic()
    if now - _last_logged.get(problem, -_LOG_EVERY_S) >= _LOG_EVERY_S:
        _last_logged[problem] = now
        log.error("%s", problem)
    raise StorageError(problem)


def _create_empty_sqlite_with_retries(engine: Engine, attempts: int = 3) -> bool:
    """Processes starting together on one new file race for it; a loser can meet the winner's lock or half-made
    file as an OperationalError, and simply looks again."""
    for attempt in range(attempts):
        try:
            return _create_empty_sqlite(engine)
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    return False


def _create_empty_sqlite(engine: Engine) -> bool:
    """Create the schema in a SQLite database that has no tables; False when it has some. The exclusive lock makes a
    second process starting at the same moment wait, then find the tables and leave them alone."""
    with engine.begin() as connection:
        connection.exec_driver_sql("BEGIN EXCLUSIVE")
        if inspect(connection).get_table_names():
            return False
        _migrate(connection, "head")
    log.warning("created the schema (revision %s) in the new SQLite database %s", head_revision(), engine.url)
    return True
