"""The aggregate agent: ``radar.scored`` -> idempotent Redis buckets -> minute closing and detection.

Like the score agent it acks a batch only after Redis has counted it (retrying while Redis is away), and holds
a batch back if it is stopped mid-way. Closing errors (the SQL store down, say) leave the minute open; it is
closed by the next batch or by the timer once the store is back, so no alert is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust
import redis.asyncio as aioredis

from core.settings import Settings
from inference.resilience import Backoff
from storage.aggregates import AggregateStore, ScoredItem
from stream.backlog import SOURCE_HEADER, KafkaBacklog, partition_name
from stream.closer import DetectionSink, MinuteCloser
from stream.deadletter import DeadLetter, dead_letter
from stream.metrics import DEAD_LETTERS, DUPLICATES, LATE_EVENTS
from stream.score_agent import hold_back

__all__ = ["register_aggregate_agent"]

log = logging.getLogger("radar.aggregate")
SinkFactory = Callable[[faust.App], Awaitable[DetectionSink]]


def partitions_of(event: faust.EventT) -> tuple[str, ...]:
    """The raw partition a scored event was read from (the score agent's header) and its scored partition."""
    message = event.message
    headers = dict(message.headers or ())
    source = headers.get(SOURCE_HEADER)
    scored = partition_name(message.topic, message.partition)
    return (source.decode(), scored) if isinstance(source, bytes) else (scored,)


def _letter(event: faust.EventT, reason: str) -> DeadLetter:
    message = event.message
    return dead_letter(event.value, reason, stage="aggregate", source_topic=message.topic,
                       partition=message.partition, offset=message.offset, key=event.key)  # fmt: skip


def register_aggregate_agent(app: faust.App, settings: Settings, sink_factory: SinkFactory) -> Any:
    scored = app.topic(settings.topics.scored, value_serializer="raw", key_serializer="raw")
    shared: dict[str, MinuteCloser] = {}

    async def closer() -> MinuteCloser:
        if "closer" not in shared:
            client = aioredis.from_url(settings.redis_url)
            store = AggregateStore(client, prefix=settings.redis_prefix)
            backlog = KafkaBacklog(settings, [*settings.topics.raw(), settings.topics.scored])
            shared["closer"] = MinuteCloser(
                store, await sink_factory(app), backlog,
                lateness_s=settings.allowed_lateness_s, settle_s=settings.settle_s, idle_grace_s=settings.idle_grace_s,
                max_future_s=settings.event_max_future_s,
            )  # fmt: skip
        return shared["closer"]

    async def close_quietly(active: MinuteCloser) -> None:
        try:
            await active.close_ready(time.time())
        except Exception as exc:  # noqa: BLE001 - the minute stays open and is closed on a later try
            log.warning("closing minutes failed, will retry: %s", exc)

    @app.agent(scored, name="aggregate")
    async def aggregate(stream: faust.StreamT) -> None:
        active = await closer()
        async for events in stream.take_events(1000, within=0.2):  # type: ignore[attr-defined]  # on Stream, not StreamT
            try:
                items, read, letters = [], [], []
                for event in events:
                    try:
                        items.append(ScoredItem.from_scored(json.loads(event.value), partitions_of(event)))
                        read.append(event)
                    except Exception as exc:  # noqa: BLE001 - no record may stop the batch: it is dead-lettered
                        letters.append(_letter(event, f"unreadable scored event: {exc!r}"))
                backoff = Backoff(base_s=0.2, cap_s=5.0)
                for attempt in itertools.count():
                    try:
                        result = await active.store.add_batch(items)
                        break
                    except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
                        if attempt % 10 == 0:
                            log.warning("Redis unavailable, holding %d events back: %s", len(items), exc)
                        await asyncio.sleep(backoff.delay(attempt))
                for position in result.late:
                    minute = items[position].published_at.strftime("%Y-%m-%d %H:%M")
                    lateness = f"lateness {settings.allowed_lateness_s:g} s"
                    why = f"late: its minute ({minute} UTC) was already closed ({lateness}); not counted"
                    letters.append(_letter(read[position], why))
                for letter in letters:
                    await (
                        await app.producer.send(settings.topics.deadletter, None, letter.to_bytes(), None, None, None)
                    )
            except BaseException:
                hold_back(events)
                raise
            DUPLICATES.labels("aggregate").inc(result.duplicates)
            LATE_EVENTS.inc(len(result.late))
            DEAD_LETTERS.labels("aggregate").inc(len(letters))
            await close_quietly(active)

    @app.timer(interval=settings.close_interval_s)
    async def close_when_quiet() -> None:
        if "closer" in shared:
            await close_quietly(shared["closer"])

    return aggregate
