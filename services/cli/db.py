"""``radar db upgrade | status`` and ``radar topics create``: what a deployment runs once before the services.

``radar db upgrade`` is the only thing that migrates the SQL store; the services check the revision and refuse a
schema that is behind (see :mod:`storage.db`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from storage.db import SchemaRevision

__all__ = ["db_app", "topics_app"]

console = Console()
db_app = typer.Typer(help="The SQL store.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to RADAR_DATABASE_URL (deployments run this once before the services)."""
    from storage.db import make_engine, schema_revision, upgrade

    engine = make_engine(Settings().database_url)
    try:
        before = _revision(engine).current
        upgrade(engine)
        after = schema_revision(engine).current
    finally:
        engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    change = "already current" if before == after else f"from {before or 'an empty database'}"
    console.print(f"schema at revision {after} ({change}) in {where}")


@db_app.command("status")
def db_status() -> None:
    """Print the database's schema revision and the one this release needs; exit 1 unless they match (an init
    container can wait on it: ``until radar db status; do sleep 5; done``)."""
    from storage.db import make_engine, schema_problem

    engine = make_engine(Settings().database_url)
    try:
        state = _revision(engine)
        problem = schema_problem(engine)
    finally:
        engine.dispose()
    console.print(f"database: {engine.url.render_as_string(hide_password=True)}")
    console.print(f"current:  {state.current or 'none (never migrated)'}\nhead:     {state.head}")
    if problem:
        console.print(problem, style="yellow", markup=False)
        raise typer.Exit(1)
    console.print("[green]up to date[/]")


def _revision(engine: Engine) -> SchemaRevision:
    """The schema's revision; an unreachable database is a StorageError (one line, no traceback)."""
    from sqlalchemy.exc import OperationalError

    from core.errors import StorageError
    from storage.db import schema_revision

    try:
        return schema_revision(engine)
    except OperationalError as exc:
        raise StorageError(f"cannot reach {engine.url.render_as_string(hide_password=True)}: {exc.orig}") from exc


@topics_app.command("create")
def topics_create(
    partitions: Annotated[int | None, typer.Option(help="default: RADAR_TOPIC_PARTITIONS")] = None,
) -> None:
    """Create the topics of ARCHITECTURE.md that do not exist yet (existing ones are left as they are)."""
    from stream.topics import ensure_topics

    settings = Settings()
    created = ensure_topics(settings, partitions=partitions)
    console.print(f"created: {', '.join(created) or 'nothing (all exist)'}")
