"""Where closed minutes go: alerts published to ``radar.alerts`` (and, in front of it, the SQL store)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import faust
from sqlalchemy import Engine

from storage.alerts_repo import record_minute
from storage.db import make_sessionmaker, upgrade
from stream.closer import DetectionSink, Rollup
from stream.metrics import ALERTS

__all__ = ["ChainSink", "KafkaAlertPublisher", "SqlAlertSink"]


class SqlAlertSink:
    """Alerts, their outbox rows and the minute's rollups in one SQL transaction (idempotent by alert key).

    The schema is brought up to date by the first write, not at start-up: a worker starts and scores while the
    database is away, and a failed write (schema included) just leaves the minute open for the next try.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = make_sessionmaker(engine)
        self._schema_ready = False

    async def emit(self, minute: int, alerts: list[dict[str, Any]], rollups: list[Rollup]) -> None:
        await asyncio.to_thread(self._write, alerts, rollups)

    def _write(self, alerts: list[dict[str, Any]], rollups: list[Rollup]) -> None:
        if not self._schema_ready:
            upgrade(self.engine)
            self._schema_ready = True
        with self.sessions.begin() as session:
            record_minute(session, alerts=alerts, rollups=rollups)


class KafkaAlertPublisher:
    """Publishes each alert (key = alert key) and waits for Kafka to have it."""

    def __init__(self, app: faust.App, topic: str) -> None:
        self.app, self.topic = app, topic

    async def emit(self, minute: int, alerts: list[dict[str, Any]], rollups: list[Rollup]) -> None:
        futures = [
            await self.app.producer.send(self.topic, a["key"].encode(), json.dumps(a).encode(), None, None, None)
            for a in alerts
        ]
        for future in futures:
            await future
        for alert in alerts:
            ALERTS.labels(alert["detector"], alert["severity"]).inc()


class ChainSink:
    """Sinks in order; a failure stops the chain, so the minute is closed again later (all sinks idempotent)."""

    def __init__(self, *sinks: DetectionSink) -> None:
        self.sinks = sinks

    async def emit(self, minute: int, alerts: list[dict[str, Any]], rollups: list[Rollup]) -> None:
        for sink in self.sinks:
            await sink.emit(minute, alerts, rollups)
