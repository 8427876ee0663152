"""``radar``: one command line for every Opinion Radar process and the local tooling; one module per command group."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from core.errors import RadarError
from services.cli.console_logging import SERVICE_COMMANDS, send_library_logs_to_file

__all__ = ["app", "main"]

app = typer.Typer(
    help="Opinion Radar: real-time opinion monitoring.", no_args_is_help=True, pretty_exceptions_show_locals=False
)


def _register_subcommands() -> None:
    from services.cli.alerts import alerts_app
    from services.cli.api import api_cmd
    from services.cli.db import db_app, topics_app
    from services.cli.demo import demo_cmd
    from services.cli.detect import detect_cmd
    from services.cli.entities import entities_app
    from services.cli.model import model_app
    from services.cli.replay import replay_cmd
    from services.cli.schemas import schemas_cmd
    from services.cli.stack import stack_app
    from services.cli.webhooks import dispatcher_cmd, webhooks_app
    from services.cli.worker import worker_cmd

    app.add_typer(stack_app, name="stack")
    app.add_typer(db_app, name="db")
    app.add_typer(topics_app, name="topics")
    app.command("api")(api_cmd)
    app.add_typer(model_app, name="model")
    app.command("replay")(replay_cmd)
    app.command("worker")(worker_cmd)
    app.command("detect")(detect_cmd)
    app.command("schemas")(schemas_cmd)
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(entities_app, name="entities")
    app.command("dispatcher")(dispatcher_cmd)
    app.command("demo")(demo_cmd)


_register_subcommands()
console = Console()


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"radar {version('opinion-radar')}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Opinion Radar: real-time opinion monitoring."""
    if ctx.invoked_subcommand not in SERVICE_COMMANDS:
        from core.settings import Settings

        send_library_logs_to_file(Settings().var_dir / "log" / "radar-cli.log")


def main() -> None:
    """Exit 1 for a runtime error (a service down, a bad file), 2 for a usage error (click's own convention)."""
    try:
        app()
    except RadarError as exc:
        # the message is text from outside (a path, a name: "[/x]" is no markup) and is never hard-wrapped, so a
        # path in it stays one piece to copy however narrow the terminal or pipe
        console.print("[bold red]error:[/]", escape(str(exc)), soft_wrap=True)
        raise SystemExit(1) from None
