"""``radar``: one command line for every Opinion Radar process and the local tooling; one module per command group."""

from __future__ import annotations

import typer
from rich.console import Console

from core.errors import RadarError

__all__ = ["app", "main"]

app = typer.Typer(
    help="Opinion Radar: real-time opinion monitoring.", no_args_is_help=True, pretty_exceptions_show_locals=False
)


def _register_subcommands() -> None:
    from services.cli.api import api_cmd
    from services.cli.db import db_app, topics_app
    from services.cli.demo import demo_cmd
    from services.cli.detect import detect_cmd
    from services.cli.model import model_app
    from services.cli.replay import replay_cmd
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
    app.add_typer(webhooks_app, name="webhooks")
    app.command("dispatcher")(dispatcher_cmd)
    app.command("demo")(demo_cmd)


_register_subcommands()
console = Console()


def main() -> None:
    try:
        app()
    except RadarError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
