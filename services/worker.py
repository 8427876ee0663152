"""The stream worker process: one Faust worker running the chosen agents; start several to scale out."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from typing import Any

from core.settings import Settings

__all__ = ["AGENTS", "run_worker", "wait_for_kafka"]

AGENTS = frozenset({"score", "aggregate"})

log = logging.getLogger("radar.worker")


def _start_metrics_server(host: str, first_port: int) -> int | None:
    """Expose /metrics on the first free port from ``first_port`` (several workers on one host)."""
    from prometheus_client import start_http_server

    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    for port in range(first_port, first_port + 50):
        with socket.socket() as probe:
            if probe.connect_ex((probe_host, port)) == 0:
                continue
        try:
            start_http_server(port, addr=host)
            return port
        except OSError:
            continue
    return None


def _bounded_stop_worker(grace_s: float) -> type:
    """A Faust worker whose stop is bounded: after SIGTERM or Ctrl-C it has ``grace_s`` to stop cleanly, then the
    process exits anyway. With the broker unreachable, Faust's consumer thread waits on it for over 40 s, which a
    Kubernetes rollout (30 s) and a person at a terminal do not; offsets are committed only after processing, so
    whatever the cut-short stop skips is consumed again by the next owner."""
    import faust

    class BoundedStopWorker(faust.Worker):
        def _install_signal_handlers_unix(self) -> None:
            super()._install_signal_handlers_unix()
            self.loop.add_signal_handler(signal.SIGHUP, self._on_sigterm)  # a closed terminal stops it too

        def _schedule_shutdown(self, signal: Any) -> None:
            def cut_short() -> None:
                log.warning("worker still stopping after %.0f s (broker unreachable?): exiting now", grace_s)
                logging.shutdown()
                os._exit(0)

            timer = threading.Timer(grace_s, cut_short)
            timer.daemon = True
            timer.start()
            super()._schedule_shutdown(signal)

    return BoundedStopWorker


def wait_for_kafka(
    settings: Settings, *, sleep: Any = time.sleep, first_wait_s: float = 0.5, probe_timeout_ms: int = 5000
) -> int:
    """Block until the brokers answer a metadata request; returns the attempts it took.

    Faust gives up for good when the broker is unreachable while it starts (a worker restarted during a broker
    outage, or started before it): it exits with a traceback and has to be started again. Waiting here first turns
    the common case, a broker that is down when the worker starts, into a pause with one log line per 10 attempts.
    """
    from kafka import KafkaAdminClient

    attempt, wait_s = 0, first_wait_s
    while True:
        attempt += 1
        try:
            admin = KafkaAdminClient(
                **settings.kafka_python_config(),
                request_timeout_ms=probe_timeout_ms,
                bootstrap_timeout_ms=probe_timeout_ms,
            )
        except Exception as exc:  # noqa: BLE001 - NoBrokersAvailable, timeouts: the broker is not there yet
            if attempt % 10 == 1:
                log.warning("waiting for Kafka at %s (attempt %d): %s", settings.kafka_bootstrap_servers, attempt, exc)
            sleep(wait_s)
            wait_s = min(wait_s * 2, 5.0)
            continue
        admin.close()
        if attempt > 1:
            log.info("Kafka answers after %d attempts", attempt)
        return attempt


def run_worker(settings: Settings, agents: set[str], loglevel: str, metrics_port: int, say: Any = print) -> None:
    """Build the Faust app with ``agents``, expose metrics, and run until stopped (blocks)."""
    from stream.app import create_app
    from stream.lag import register_lag_gauge
    from stream.score_agent import register_score_agent
    from stream.watchlist import register_watchlist

    if "aggregate" in agents:  # it writes the aggregates: refuse a Redis that could evict them
        from storage.redis_policy import check_redis_policy

        check_redis_policy(settings.redis_url)
    wait_for_kafka(settings)
    app = create_app(settings)
    register_lag_gauge(app)
    watchlist = register_watchlist(app, settings)  # one per worker: SQL re-read every RADAR_WATCHLIST_REFRESH_S
    if "score" in agents:
        register_score_agent(app, settings, watchlist=watchlist)
    if "aggregate" in agents:
        _register_aggregation(app, settings, watchlist)
    if metrics_port:
        bound = _start_metrics_server(settings.metrics_host, metrics_port)
        say(f"worker metrics on http://{settings.metrics_host}:{bound}/metrics" if bound else "no free metrics port")
    _bounded_stop_worker(settings.worker_stop_grace_s)(app, loglevel=loglevel).execute_from_commandline()


def _register_aggregation(app: Any, settings: Settings, watchlist: Any) -> None:
    import faust

    from storage.db import make_engine
    from stream.aggregate_agent import register_aggregate_agent
    from stream.sinks import ChainSink, KafkaAlertPublisher, SqlAlertSink, SqlProgress

    engine = make_engine(settings.database_url)  # connects on first use: the worker starts without the database

    async def sink(app: faust.App) -> ChainSink:
        # SQL first: an alert is published to Kafka only once it is safely recorded with its outbox rows
        return ChainSink(SqlAlertSink(engine, settings.redis_prefix), KafkaAlertPublisher(app, settings.topics.alerts))

    progress = SqlProgress(engine, settings.redis_prefix)  # what a Redis that lost its state resumes from
    register_aggregate_agent(app, settings, sink, watchlist=watchlist, progress=progress)
