"""``radar db upgrade | status | prune`` and ``radar topics create``: what a deployment runs once before the
services, and retention by hand.

``radar db upgrade`` is the only thing that migrates the SQL store; the services check the revision and refuse a
schema that is behind (see :mod:`storage.db`). ``radar db prune --older-than 90d`` deletes old minute rollups and
finished webhook deliveries (:mod:`storage.retention`); the dispatcher does the same hourly when
``RADAR_RETENTION_DAYS`` > 0.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from storage.db import SchemaRevision

__all__ = ["db_app", "parse_age", "topics_app"]

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


_AGE = re.compile(r"(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?")


def parse_age(text: str) -> timedelta:
    """A positive age in days, hours and minutes: ``90d``, ``36h``, ``45m``, ``1d12h``; BadParameter otherwise.

    >>> parse_age("1d12h")
    datetime.timedelta(days=1, seconds=43200)
    """
    found = _AGE.fullmatch(text.strip().lower())
    if not found or not any(found.groups()):
        raise typer.BadParameter(f"{text!r} is not an age such as 90d, 36h, 45m or 1d12h")
    days, hours, minutes = (int(part or 0) for part in found.group("d", "h", "m"))
    try:
        age = timedelta(days=days, hours=hours, minutes=minutes)
        datetime.now(UTC) - age  # a cutoff before year 1 is no date either
    except OverflowError:
        raise typer.BadParameter(f"{text!r} is longer than any calendar allows") from None
    if age <= timedelta(0):
        raise typer.BadParameter(f"{text!r} would delete everything finished: give an age above zero")
    return age


@db_app.command("prune")
def db_prune(
    older_than: Annotated[
        timedelta,
        typer.Option(parser=parse_age, metavar="AGE", help="e.g. 90d, 36h, 45m, 1d12h", show_default=False),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would go; delete nothing")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="rows per transaction")] = 5000,
) -> None:
    """Delete minute rollups and finished webhook deliveries (delivered, dead, cancelled; never pending or
    sending) older than AGE, and the kept texts of alerts resolved before it, a batch per transaction, and print
    how many went."""
    from storage.db import make_engine, make_sessionmaker
    from storage.retention import count_prunable, prune_older_than

    cutoff = datetime.now(UTC) - older_than
    engine = make_engine(Settings().database_url)
    try:
        _revision(engine)  # an unreachable database: one line, no traceback
        sessions = make_sessionmaker(engine)
        if dry_run:
            with sessions() as session:
                counts = count_prunable(session, cutoff=cutoff)
        else:
            counts = prune_older_than(sessions, cutoff=cutoff, batch=batch_size)
    finally:
        engine.dispose()
    verb = "would delete" if dry_run else "deleted"
    console.print(f"older than {cutoff.isoformat(timespec='seconds')}: {verb}")
    console.print(f"  {counts.rollups} minute rollups (entity_minute_stats)")
    console.print(f"  {counts.deliveries} finished webhook deliveries (webhook_deliveries)")
    console.print(f"  the kept texts of {counts.evidence} resolved alerts (alerts.evidence)")


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
    """Create the topics of docs/architecture.md that do not exist yet (existing ones are left as they are)."""
    from stream.topics import ensure_topics

    settings = Settings()
    created = ensure_topics(settings, partitions=partitions)
    console.print(f"created: {', '.join(created) or 'nothing (all exist)'}")
