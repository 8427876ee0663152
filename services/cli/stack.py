"""``radar stack up | down | status``: the local stack (localdev/stack) as one command."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.settings import Settings

if TYPE_CHECKING:  # the stack's modules are heavy: `radar detect` must start fast
    from localdev.stack.base import ServiceState

__all__ = ["stack_app"]

stack_app = typer.Typer(help="The local stack: Kafka, Redis, PostgreSQL, Triton.", no_args_is_help=True)
console = Console()

ServiceOption = Annotated[
    list[str] | None,
    typer.Option("--only", help="kafka, redis, postgres, triton, alertmanager or prometheus (repeatable)"),
]


def _states_table(title: str, states: list[ServiceState]) -> Table:
    table = Table(title=title)
    for column in ("service", "state", "detail"):
        table.add_column(column)
    colours = {"started": "green", "restarted": "green", "running": "green", "external": "yellow", "down": "red"}
    for state in states:
        colour = colours.get(state.state, "white")
        table.add_row(state.name, f"[{colour}]{state.state}[/]", state.detail)
    return table


@stack_app.command("up")
def stack_up(
    only: ServiceOption = None,
    alertmanager: Annotated[
        bool, typer.Option(help="also run Alertmanager (for RADAR_ALERTMANAGER_URL=http://127.0.0.1:9094)")
    ] = False,
    prometheus: Annotated[
        bool, typer.Option(help="also run Prometheus, scraping the local workers, dispatcher, API and Triton")
    ] = False,
) -> None:
    """Install what is missing, start each service once and wait until it is ready (idempotent)."""
    from core.signals import stopping_on_signals
    from localdev.stack import Stack

    started = time.monotonic()
    extra = [name for name, wanted in (("alertmanager", alertmanager), ("prometheus", prometheus)) if wanted]
    stack = Stack(Settings(), only, extra=extra)
    states: list[ServiceState] = []
    already = {state.name for state in stack.status() if state.state in ("running", "external")}
    try:
        with stopping_on_signals(), console.status("starting the local stack…") as status:

            def show(state: ServiceState) -> None:
                states.append(state)
                console.log(f"{state.name}: {state.state} {state.detail}")
                status.update(f"started {len(states)}/{len(stack.services)} services…")

            stack.up(on_state=show)
    except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM or SIGHUP: stop what this command started, then exit
        mine = [service.name for service in stack.services if service.name not in already]
        if mine:
            Stack(Settings(), mine).down()
        console.print(f"stack up interrupted ({stop or 'SIGINT'}): stopped {', '.join(mine) or 'nothing'}")
        raise typer.Exit(130) from None
    console.print(_states_table(f"stack up in {time.monotonic() - started:.1f} s", states))


@stack_app.command("down")
def stack_down(only: ServiceOption = None) -> None:
    """Stop what ``stack up`` started (by PID file); anything else is left alone."""
    from localdev.stack import Stack

    console.print(_states_table("stack down", Stack(Settings(), only).down()))


@stack_app.command("status")
def stack_status(only: ServiceOption = None) -> None:
    """Show each service: running (ours), external (someone else's), or down."""
    from localdev.stack import Stack

    states = Stack(Settings(), only).status()
    console.print(_states_table("stack status", states))
    if any(state.state not in ("running", "external") for state in states):
        raise typer.Exit(1)
