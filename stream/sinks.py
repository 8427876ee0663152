"""Where closed minutes go: alerts published to ``radar.alerts`` (and, in front of it, the SQL store).

Every sink takes the domain's :class:`core.alerts.Alert`; ``radar.alerts`` carries ``alert.model_dump(mode="json")``
(key: the alert key).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import faust
from sqlalchemy import Engine

from core.alerts import Alert
from core.domain import Rollup
from storage.alerts_repo import record_minute
from storage.db import make_sessionmaker, require_current_schema
from stream.metrics import ALERTS

__all__ = ["AlertSink", "ChainSink", "KafkaAlertPublisher", "SqlAlertSink"]


class AlertSink(Protocol):
    """Takes a closed minute's alerts and rollups; idempotent, since a minute may be closed again after a crash."""

    async def emit(self, minute: int, alerts: Sequence[Alert], rollups: Sequence[Rollup]) -> None: ...


class SqlAlertSink:
    """Alerts, their outbox rows and the minute's rollups in one SQL transaction (idempotent by alert key).

    The schema is brought up to date by the first write, not at start-up: a worker starts and scores while the
    database is away, and a failed write (schema included) just leaves the minute open for the next try.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = make_sessionmaker(engine)
        self._schema_ready = False

    async def emit(self, minute: int, alerts: Sequence[Alert], rollups: Sequence[Rollup]) -> None:
        await asyncio.to_thread(self._write, alerts, rollups)

    def _write(self, alerts: Sequence[Alert], rollups: Sequence[Rollup]) -> None:
        if not self._schema_ready:
            require_current_schema(self.engine)
            self._schema_ready = True
        with self.sessions.begin() as session:
            record_minute(session, alerts=alerts, rollups=rollups)


class KafkaAlertPublisher:
    """Publishes each alert (key = alert key) and waits for Kafka to have it."""

    def __init__(self, app: faust.App, topic: str) -> None:
        self.app, self.topic = app, topic

    async def emit(self, minute: int, alerts: Sequence[Alert], rollups: Sequence[Rollup]) -> None:
        futures = [
            await self.app.producer.send(self.topic, a.key.encode(), _value(a), None, None, None) for a in alerts
        ]
        for future in futures:
            await future
        for alert in alerts:
            ALERTS.labels(alert.detector, alert.severity.value).inc()


def _value(alert: Alert) -> bytes:
    return json.dumps(alert.model_dump(mode="json")).encode()


class ChainSink:
    """Sinks in order; a failure stops the chain, so the minute is closed again later (all sinks idempotent)."""

    def __init__(self, *sinks: AlertSink) -> None:
        self.sinks = sinks

    async def emit(self, minute: int, alerts: Sequence[Alert | Mapping[str, Any]], rollups: Sequence[Rollup]) -> None:
        typed = _typed(alerts)
        for sink in self.sinks:
            await sink.emit(minute, typed, rollups)


def _typed(alerts: Iterable[Alert | Mapping[str, Any]]) -> list[Alert]:
    """Alerts as the domain type. A mapping is the published JSON of one: the closer hands those over until it hands
    the alerts themselves (then this, and the Mapping in ``ChainSink.emit``, go)."""
    return [alert if isinstance(alert, Alert) else Alert.model_validate(alert) for alert in alerts]
