"""The stream worker process: one Faust worker running the chosen agents; start several to scale out."""

from __future__ import annotations

import logging
import socket
from typing import Any

from core.settings import Settings

__all__ = ["AGENTS", "run_worker"]

AGENTS = frozenset({"score", "aggregate"})

log = logging.getLogger("radar.worker")


def _start_metrics_server(first_port: int) -> int | None:
    """Expose /metrics on the first free port from ``first_port`` (several workers on one host)."""
    from prometheus_client import start_http_server

    for port in range(first_port, first_port + 50):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                continue
        try:
            start_http_server(port, addr="127.0.0.1")
            return port
        except OSError:
            continue
    return None


def run_worker(settings: Settings, agents: set[str], loglevel: str, metrics_port: int, say: Any = print) -> None:
    """Build the Faust app with ``agents``, expose metrics, and run until stopped (blocks)."""
    import faust

    from stream.app import create_app
    from stream.lag import register_lag_gauge
    from stream.score_agent import register_score_agent

    app = create_app(settings)
    register_lag_gauge(app)
    if "score" in agents:
        register_score_agent(app, settings)
    if "aggregate" in agents:
        _register_aggregation(app, settings)
    if metrics_port:
        bound = _start_metrics_server(metrics_port)
        say(f"worker metrics on http://127.0.0.1:{bound}/metrics" if bound else "no free metrics port")
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()


def _register_aggregation(app: Any, settings: Settings) -> None:
    import faust

    from storage.db import make_engine
    from stream.aggregate_agent import register_aggregate_agent
    from stream.sinks import ChainSink, KafkaAlertPublisher, SqlAlertSink

    engine = make_engine(settings.database_url)  # connects on first use: the worker starts without the database

    async def sink(app: faust.App) -> ChainSink:
        # SQL first: an alert is published to Kafka only once it is safely recorded with its outbox rows
        return ChainSink(SqlAlertSink(engine), KafkaAlertPublisher(app, settings.topics.alerts))

    register_aggregate_agent(app, settings, sink)
