"""``radar entities add | list | remove | import``: the watchlist in SQL, which the workers re-read every
``RADAR_WATCHLIST_REFRESH_S`` (no restart). The first command seeds it from ``RADAR_WATCHLIST`` (the TOML file) if
no process did yet.

Exit 2 for a usage error (an invalid id, an empty name, an unknown severity), 1 for a runtime one (the database
away or behind, an import file that is not a valid watchlist, an id that is not watched).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from core.domain import Severity
from core.errors import NotFound
from core.settings import Settings
from core.watchlist import Entity, EntitySpec, read_watchlist, validation_summary

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["entities_app"]

entities_app = typer.Typer(help="The watchlist: the entities the workers tag and watch.", no_args_is_help=True)
console = Console(markup=False)  # every value printed comes from outside: "[/x]" in a name is text, not markup


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    """One transaction on a database at this release's schema, the watchlist seeded first."""
    from storage.db import make_engine, make_sessionmaker, require_current_schema  # SQLAlchemy loads only here
    from stream.watchlist import seed_watchlist

    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
        with make_sessionmaker(engine).begin() as session:
            seed_watchlist(session, settings.watchlist)
            yield session
    finally:
        engine.dispose()


def _spec(**fields: object) -> Entity:
    try:
        return EntitySpec.model_validate(fields).to_entity()
    except ValidationError as exc:
        raise typer.BadParameter(validation_summary(exc)) from None


@entities_app.command("add")
def add_cmd(
    entity_id: Annotated[str, typer.Argument(metavar="ID", help="the aggregation key, e.g. ACME")],
    name: Annotated[list[str], typer.Option("--name", help="display name (repeatable; the first is shown)")],
    alias: Annotated[list[str] | None, typer.Option("--alias", help="another name (repeatable)")] = None,
    cashtag: Annotated[list[str] | None, typer.Option("--cashtag", help="ticker, matched as $TAG (repeatable)")] = None,
    min_severity: Annotated[
        Severity, typer.Option("--min-severity", help="alerts for it below this are not raised")
    ] = Severity.INFO,
) -> None:
    """Watch an entity, or replace what an existing one holds."""
    from storage.watchlist import upsert_entity

    entity = _spec(id=entity_id, names=name, aliases=alias or [], cashtags=cashtag or [], min_severity=min_severity)
    with _session(Settings()) as session:
        change = upsert_entity(session, entity)
    console.print(f"{entity.id}: {change}", markup=False)


@entities_app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False) -> None:
    """Every watched entity, by id."""
    from storage.watchlist import list_watched

    with _session(Settings()) as session:
        watched = list_watched(session)
    if as_json:
        typer.echo(json.dumps([w.entity.to_json() | {"updated_at": w.updated_at.isoformat()} for w in watched]))
        return
    table = Table(title=f"watchlist ({len(watched)} entities)")
    for column in ("id", "names", "aliases", "cashtags", "min severity"):
        table.add_column(column)
    for w in watched:
        e = w.entity
        table.add_row(e.id, ", ".join(e.names), ", ".join(e.aliases), ", ".join(e.cashtags), str(e.min_severity))
    console.print(table)


@entities_app.command("remove")
def remove_cmd(entity_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Stop watching an entity (its alerts and series stay)."""
    from storage.watchlist import remove_entity

    with _session(Settings()) as session:
        removed = remove_entity(session, entity_id=entity_id)
    if not removed:
        raise NotFound(f"no watched entity {entity_id!r}")
    console.print(f"removed {entity_id}", markup=False)


@entities_app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="a TOML file in deploy/watchlist.toml's format")],
) -> None:
    """Create or replace every entity of FILE; entities not in it are left as they are."""
    from storage.watchlist import import_entities

    entities = read_watchlist(file)  # ConfigError (exit 1) naming the entry when the file is not a watchlist
    with _session(Settings()) as session:
        counts = import_entities(session, entities)
    console.print(
        f"{len(entities)} entities from {file}: {counts.created} created, {counts.updated} updated, "
        f"{counts.unchanged} unchanged",
        markup=False,
    )
