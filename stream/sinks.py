"""Where closed minutes go: alerts published to ``radar.alerts`` (and, in front of it, the SQL store).

Every sink here is a :class:`stream.minute_sink.MinuteSink`: it takes a :class:`stream.minute_sink.ClosedMinute`,
whose alerts are the domain's :class:`core.alerts.Alert`: those the minute opens (status open) and those it
resolves (status resolved, with resolved_at). ``radar.alerts`` carries ``alert.model_dump(mode="json")`` for both
(key: the alert key), so a consumer tells an opening from a resolution by ``status``.
"""

from __future__ import annotations

import asyncio
import json

import faust
from sqlalchemy import Engine

from core.alerts import Alert
from storage.alerts_repo import record_minute
from storage.closing_progress import durable_closed_through, record_progress, unresolved_alerts
from storage.db import make_sessionmaker, require_current_schema
from stream.metrics import ALERTS, RESOLVED
from stream.minute_sink import ClosedMinute, MinuteSink

__all__ = ["ChainSink", "KafkaAlertPublisher", "SqlAlertSink", "SqlProgress"]


class SqlAlertSink:
    """Alerts, their resolutions, their outbox rows and the minute's rollups in one SQL transaction (idempotent by
    alert key).

    The schema revision is checked (never migrated) by the first write, not at start-up: a worker starts and scores
    while the database is away, and a failed write (schema included) just leaves the minute open for the next try.
    With ``prefix`` (the workers' Redis prefix) the same transaction records the minute as closed for it
    (:mod:`storage.closing_progress`), so a Redis that loses its state resumes after it.
    """

    def __init__(self, engine: Engine, prefix: str | None = None) -> None:
        self.engine, self.prefix = engine, prefix
        self.sessions = make_sessionmaker(engine)
        self._schema_ready = False

    async def emit(self, closed: ClosedMinute) -> None:
        await asyncio.to_thread(self._write, closed)

    def _write(self, closed: ClosedMinute) -> None:
        if not self._schema_ready:
            require_current_schema(self.engine)
            self._schema_ready = True
        with self.sessions.begin() as session:
            record_minute(session, alerts=closed.opened, rollups=closed.rollups, resolved=closed.resolved)
            if self.prefix is not None:
                record_progress(session, self.prefix, closed.minute)


class SqlProgress:
    """The closer's durable memory in SQL (:class:`stream.closer.DurableProgress`): the last minute closed for
    ``prefix`` and the alerts still unresolved."""

    def __init__(self, engine: Engine, prefix: str) -> None:
        self.sessions, self.prefix = make_sessionmaker(engine), prefix

    async def closed_through(self) -> int | None:
        def read() -> int | None:
            with self.sessions() as session:
                return durable_closed_through(session, self.prefix)

        return await asyncio.to_thread(read)

    async def unresolved_alerts(self) -> list[Alert]:
        def read() -> list[Alert]:
            with self.sessions() as session:
                return unresolved_alerts(session)

        return await asyncio.to_thread(read)


class KafkaAlertPublisher:
    """Publishes each alert, opened then resolved (key = alert key), and waits for Kafka to have it."""

    def __init__(self, app: faust.App, topic: str) -> None:
        self.app, self.topic = app, topic

    async def emit(self, closed: ClosedMinute) -> None:
        futures = [
            await self.app.producer.send(self.topic, a.key.encode(), _value(a), None, None, None)
            for a in (*closed.opened, *closed.resolved)
        ]
        for future in futures:
            await future
        for alert in closed.opened:
            ALERTS.labels(alert.detector, alert.severity.value).inc()
        for alert in closed.resolved:
            RESOLVED.labels(alert.detector, alert.severity.value).inc()


def _value(alert: Alert) -> bytes:
    return json.dumps(alert.model_dump(mode="json")).encode()


class ChainSink:
    """Sinks in order; a failure stops the chain, so the minute is closed again later (all sinks idempotent)."""

    def __init__(self, *sinks: MinuteSink) -> None:
        self.sinks = sinks

    async def emit(self, closed: ClosedMinute) -> None:
        for sink in self.sinks:
            await sink.emit(closed)
