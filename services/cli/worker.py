"""``radar worker``: see services/worker.py."""

from __future__ import annotations

from typing import Annotated

import typer

from core.settings import Settings

__all__ = ["worker_cmd"]


def worker_cmd(
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info, debug")] = "info",
    metrics_port: Annotated[int | None, typer.Option(help="default: RADAR_WORKER_METRICS_PORT (0: none)")] = None,
    agents: Annotated[str, typer.Option(help="comma-separated: score, aggregate")] = "score,aggregate",
) -> None:
    """Consume the raw topics, score on Triton, aggregate and detect (all agents, one consumer group)."""
    from services.worker import AGENTS, run_worker

    settings = Settings()
    chosen = {a.strip() for a in agents.split(",") if a.strip()}
    if not chosen <= AGENTS or not chosen:
        raise typer.BadParameter("--agents takes score and/or aggregate")
    port = settings.worker_metrics_port if metrics_port is None else metrics_port
    run_worker(settings, chosen, loglevel, port, say=typer.echo)
