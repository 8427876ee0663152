"""``radar api``: the HTTP API under uvicorn."""

from __future__ import annotations

import os
import signal
from typing import Annotated

import typer

from core.settings import Settings

__all__ = ["api_cmd"]


def api_cmd(
    host: Annotated[str | None, typer.Option(help="default: RADAR_API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: RADAR_API_PORT")] = None,
    workers: Annotated[int, typer.Option(help="processes (single-event ingest is CPU-bound per process)")] = 1,
) -> None:
    """The HTTP API: ingest, queries, dashboard, /metrics (all processes), /healthz, /readyz.

    Beyond loopback it needs real tokens: it exits 1 while RADAR_API_TOKEN or RADAR_API_READ_TOKEN is the
    published default or shorter than 24 characters."""
    import uvicorn

    from services.api.exposure import exposure_problem
    from services.api.metrics import shared_metrics_dir

    settings = Settings()
    bind = host if host is not None else settings.api_host
    problem = exposure_problem(bind, settings)
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(1)
    if workers == 1:  # uvicorn stops on SIGINT and SIGTERM; a closed terminal's SIGHUP becomes its SIGTERM
        signal.signal(signal.SIGHUP, lambda *_: os.kill(os.getpid(), signal.SIGTERM))
    with shared_metrics_dir(workers):
        uvicorn.run(
            "services.api.app:create_app_from_env",
            factory=True,
            workers=workers,
            host=bind,
            port=port or settings.api_port,
            log_level="warning",
        )
