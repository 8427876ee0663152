"""``radar``: one command line for every Opinion Radar process (each service is a subcommand)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.errors import RadarError
from core.settings import Settings

if TYPE_CHECKING:  # the stack's modules are heavy: `radar detect` must start fast
    from services.stack.base import ServiceState

__all__ = ["app", "main"]

app = typer.Typer(
    help="Opinion Radar: real-time opinion monitoring.", no_args_is_help=True, pretty_exceptions_show_locals=False
)
stack_app = typer.Typer(help="The local stack: Kafka, Redis, PostgreSQL, Triton.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")


def _register_subcommands() -> None:
    from services.demo_cli import demo_cmd
    from services.detect_cli import detect_cmd
    from services.model_cli import model_app
    from services.replay_cli import replay_cmd
    from services.webhooks.cli import dispatcher_cmd, webhooks_app
    from services.worker_cli import worker_cmd

    app.add_typer(model_app, name="model")
    app.command("replay")(replay_cmd)
    app.command("worker")(worker_cmd)
    app.command("detect")(detect_cmd)
    app.add_typer(webhooks_app, name="webhooks")
    app.command("dispatcher")(dispatcher_cmd)
    app.command("demo")(demo_cmd)


_register_subcommands()
console = Console()

ServiceOption = Annotated[
    list[str] | None, typer.Option("--only", help="kafka, redis, postgres or triton (repeatable)")
]


def _states_table(title: str, states: list[ServiceState]) -> Table:
    table = Table(title=title)
    for column in ("service", "state", "detail"):
        table.add_column(column)
    colours = {"started": "green", "running": "green", "external": "yellow", "down": "red"}
    for state in states:
        colour = colours.get(state.state, "white")
        table.add_row(state.name, f"[{colour}]{state.state}[/]", state.detail)
    return table


@stack_app.command("up")
def stack_up(only: ServiceOption = None) -> None:
    """Install what is missing, start each service once and wait until it is ready (idempotent)."""
    from services.stack import Stack

    started = time.monotonic()
    stack = Stack(Settings(), only)
    states: list[ServiceState] = []
    with console.status("starting the local stack…") as status:

        def show(state: ServiceState) -> None:
            states.append(state)
            console.log(f"{state.name}: {state.state} {state.detail}")
            status.update(f"started {len(states)}/{len(stack.services)} services…")

        stack.up(on_state=show)
    console.print(_states_table(f"stack up in {time.monotonic() - started:.1f} s", states))


@stack_app.command("down")
def stack_down(only: ServiceOption = None) -> None:
    """Stop what ``stack up`` started (by PID file); anything else is left alone."""
    from services.stack import Stack

    console.print(_states_table("stack down", Stack(Settings(), only).down()))


@stack_app.command("status")
def stack_status(only: ServiceOption = None) -> None:
    """Show each service: running (ours), external (someone else's), or down."""
    from services.stack import Stack

    states = Stack(Settings(), only).status()
    console.print(_states_table("stack status", states))
    if any(state.state not in ("running", "external") for state in states):
        raise typer.Exit(1)


db_app = typer.Typer(help="The SQL store.", no_args_is_help=True)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(topics_app, name="topics")


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
    from services.kafka_io.admin import ensure_topics

    settings = Settings()
    created = ensure_topics(settings, partitions=partitions)
    console.print(f"created: {', '.join(created) or 'nothing (all exist)'}")


@app.command("api")
def api_cmd(
    host: Annotated[str | None, typer.Option(help="default: RADAR_API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: RADAR_API_PORT")] = None,
    workers: Annotated[int, typer.Option(help="processes (single-event ingest is CPU-bound per process)")] = 1,
) -> None:
    """The HTTP API: ingest, queries, dashboard, /metrics, /healthz.

    Beyond loopback it needs real tokens: it exits 2 while RADAR_API_TOKEN or RADAR_API_READ_TOKEN is the
    published default or shorter than 24 characters."""
    import uvicorn

    from services.api.exposure import exposure_problem

    settings = Settings()
    bind = host if host is not None else settings.api_host
    problem = exposure_problem(bind, settings)
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    uvicorn.run("services.api.app:create_app_from_env", factory=True, workers=workers,
                host=bind, port=port or settings.api_port, log_level="warning")  # fmt: skip


def main() -> None:
    try:
        app()
    except RadarError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
