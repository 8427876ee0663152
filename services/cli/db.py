"""``radar db upgrade`` and ``radar topics create``: what a deployment runs once before the services."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from core.settings import Settings

__all__ = ["db_app", "topics_app"]

console = Console()
db_app = typer.Typer(help="The SQL store.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to RADAR_DATABASE_URL (deployments run this once before the services)."""
    from storage.db import make_engine, upgrade

    settings = Settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    console.print(f"schema up to date at {engine.url.render_as_string(hide_password=True)}")


@topics_app.command("create")
def topics_create(
    partitions: Annotated[int | None, typer.Option(help="default: RADAR_TOPIC_PARTITIONS")] = None,
) -> None:
    """Create the topics of ARCHITECTURE.md that do not exist yet (existing ones are left as they are)."""
    from stream.topics import ensure_topics

    settings = Settings()
    created = ensure_topics(settings, partitions=partitions)
    console.print(f"created: {', '.join(created) or 'nothing (all exist)'}")
