"""``radar demo``: see localdev/demo_flow.py. Exit status 0 only when the scenario's incident was detected."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["demo_cmd"]


def demo_cmd(
    duration: Annotated[
        float | None, typer.Option(help="seconds of streaming before the summary (default: the scenario)")
    ] = None,
    headless: Annotated[bool, typer.Option(help="plain log lines; exit after the summary")] = False,
    speedup: Annotated[float, typer.Option(help="event-time compression of the replay")] = 60.0,
    workers: Annotated[int, typer.Option(help="Faust worker processes")] = 2,
    model: Annotated[str, typer.Option(help="trained (default) or tiny (untrained, for a fast smoke run)")] = "trained",
    seed: int = 7,
    keep_stack: Annotated[bool, typer.Option(help="leave Kafka, Redis, PostgreSQL and Triton running")] = False,
    summary_json: Annotated[
        Path | None,
        typer.Option(help="also write the outcome as JSON: incident, alerts and their lifecycle, webhooks"),
    ] = None,
) -> None:
    """Everything end to end: stack, model, workers, dispatcher, API, a replay with an incident, live alerts."""
    from localdev.demo_flow import DemoOptions, run_demo

    if model not in ("trained", "tiny"):
        raise typer.BadParameter("--model is trained or tiny")
    options = DemoOptions(duration, headless, speedup, workers, model, seed, keep_stack, summary_json)
    from core.signals import stopping_on_signals

    with stopping_on_signals():  # SIGTERM and SIGHUP stop the demo and what it started, as Ctrl-C does
        code = run_demo(options, Console())
    raise typer.Exit(code)
