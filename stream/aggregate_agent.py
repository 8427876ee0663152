"""The aggregate agent: ``radar.scored`` -> idempotent Redis buckets -> minute closing and detection.

Like the score agent it acks a batch only after Redis has counted it (retrying while Redis is away), and holds
a batch back if it is stopped mid-way. Closing errors (the SQL store down, say) leave the minute open; it is
closed by the next batch or by the timer once the store is back, so no alert is lost. The closer's sink drops the
alerts below their entity's ``min_severity`` (stream.sensitivity), read from the worker's live watchlist.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import faust
import redis.asyncio as aioredis

from core.events import ScoredEvent
from core.retry import Backoff, retry_forever
from core.settings import Settings
from storage.aggregates import AddResult, AggregateStore, ScoredItem
from stream.backlog import KafkaBacklog
from stream.closer import DurableProgress, MinuteCloser
from stream.deadletter import DeadLetter, refused
from stream.lag import report_close_delay
from stream.metrics import DEAD_LETTERS, DUPLICATES, LATE_EVENTS
from stream.minute_sink import MinuteSink
from stream.score_agent import ProducerSink, hold_back, received
from stream.score_stage import OutRecord, RecordSink
from stream.sensitivity import SensitivitySink
from stream.watchlist import LiveWatchlist

__all__ = [
    "BatchStore",
    "SharedCloser",
    "aggregate_events",
    "close_quietly",
    "count_until_stored",
    "late_letters",
    "read_batch",
    "register_aggregate_agent",
]

log = logging.getLogger("radar.aggregate")
SinkFactory = Callable[[faust.App], Awaitable[MinuteSink]]
REDIS_AWAY = (aioredis.ConnectionError, aioredis.TimeoutError)


class BatchStore(Protocol):
    """What counting needs of the store (:class:`storage.aggregates.AggregateStore` in the workers)."""

    async def add_batch(self, items: Sequence[ScoredItem]) -> AddResult: ...


def _letter(event: faust.EventT, reason: str) -> DeadLetter:
    return refused(received(event), reason, stage="aggregate")


def read_batch(events: Sequence[faust.EventT]) -> tuple[list[ScoredItem], list[faust.EventT], list[DeadLetter]]:
    """The readable scored events (and the Faust events they came from, in step), and a dead letter for the rest:
    no record may stop the batch."""
    items: list[ScoredItem] = []
    read: list[faust.EventT] = []
    letters: list[DeadLetter] = []
    for event in events:
        try:
            # the contract first: finite scores in [-1, 1], known labels, valid entity ids (json.loads alone takes
            # NaN and 1e200, which made the Redis script fail half-way and stopped the agent)
            ScoredEvent.model_validate_json(event.value)
            items.append(ScoredItem.from_scored(json.loads(event.value)))
            read.append(event)
        except Exception as exc:  # noqa: BLE001 - no record may stop the batch: it is dead-lettered
            letters.append(_letter(event, f"unreadable scored event: {_reason(exc)}"))
    return items, read, letters


def _reason(exc: BaseException) -> str:
    """A validation error's first complaints, short (a dead letter says why, not the whole report)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
    return repr(exc)[:300]


def late_letters(
    result: AddResult, items: Sequence[ScoredItem], read: Sequence[faust.EventT], *, lateness_s: float
) -> list[DeadLetter]:
    """A dead letter for every event the store refused as late, saying which closed minute it missed, and for
    every one the store's script refused as malformed (nothing of it was written)."""
    letters = [
        _letter(read[position], "refused by the aggregate script: a score or label out of range; not counted")
        for position in result.refused
    ]
    for position in result.late:
        minute = items[position].published_at.strftime("%Y-%m-%d %H:%M")
        why = f"late: its minute ({minute} UTC) was already closed (lateness {lateness_s:g} s); not counted"
        letters.append(_letter(read[position], why))
    return letters


async def count_until_stored(
    store: BatchStore, items: list[ScoredItem], *, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
) -> AddResult:
    """``store.add_batch(items)``, retried for as long as Redis is away (the batch is held, nothing new pulled)."""

    def waiting(attempt: int, exc: BaseException) -> None:
        if attempt % 10 == 0:
            log.warning("Redis unavailable, holding %d events back: %s", len(items), exc)

    return await retry_forever(
        lambda: store.add_batch(items),
        backoff=Backoff(base_s=0.2, cap_s=5.0),
        is_retryable=lambda exc: isinstance(exc, REDIS_AWAY),
        on_retry=waiting,
        sleep=sleep,
    )


async def aggregate_events(
    events: Sequence[faust.EventT], *, store: BatchStore, sink: RecordSink, settings: Settings
) -> None:
    """One batch: count it, dead-letter the unreadable and the late; held back (not committed) if stopped."""
    try:
        items, read, letters = read_batch(events)
        result = await count_until_stored(store, items)
        letters += late_letters(result, items, read, lateness_s=settings.allowed_lateness_s)
        for letter in letters:
            await sink.send(OutRecord(settings.topics.deadletter, None, letter.to_bytes()))
    except BaseException:
        hold_back(events)
        raise
    DUPLICATES.labels("aggregate").inc(result.duplicates)
    LATE_EVENTS.inc(len(result.late))
    DEAD_LETTERS.labels("aggregate").inc(len(letters))


class SharedCloser:
    """The worker's one store and minute closer, built when the agent starts (no client at registration); the
    closer's sink filters alerts by the watchlist's per-entity ``min_severity`` before the real sink."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        sink_factory: SinkFactory,
        watchlist: LiveWatchlist,
        progress: DurableProgress | None = None,
    ) -> None:
        self.app, self.settings, self.sink_factory = app, settings, sink_factory
        self.watchlist, self.progress = watchlist, progress
        self.store: AggregateStore | None = None
        self.closer: MinuteCloser | None = None

    async def get(self) -> tuple[AggregateStore, MinuteCloser]:
        if self.store is None or self.closer is None:
            s = self.settings
            store = AggregateStore(aioredis.from_url(s.redis_url), prefix=s.redis_prefix)
            backlog = KafkaBacklog(s, s.topics.raw(), s.topics.scored)
            sink = SensitivitySink(await self.sink_factory(self.app), lambda: self.watchlist.thresholds)
            self.closer = MinuteCloser(
                store,
                sink,
                backlog,
                lateness_s=s.allowed_lateness_s,
                settle_s=s.settle_s,
                idle_grace_s=s.idle_grace_s,
                max_future_s=s.event_max_future_s,
                resolve_after_s=s.alert_resolve_after_s,
                progress=self.progress,
            )
            self.store = store
        return self.store, self.closer


async def close_quietly(active: MinuteCloser) -> None:
    try:
        await active.close_ready(time.time())
        report_close_delay(await active.store.closed_through(), time.time())
    except Exception as exc:  # noqa: BLE001 - the minute stays open and is closed on a later try
        log.warning("closing minutes failed, will retry: %s", exc)


def register_aggregate_agent(
    app: faust.App,
    settings: Settings,
    sink_factory: SinkFactory,
    *,
    watchlist: LiveWatchlist,
    progress: DurableProgress | None = None,
) -> Any:
    scored = app.topic(settings.topics.scored, value_serializer="raw", key_serializer="raw")
    shared = SharedCloser(app, settings, sink_factory, watchlist, progress)
    sink = ProducerSink(app)

    @app.agent(scored, name="aggregate")
    async def aggregate(stream: faust.StreamT) -> None:
        await watchlist.ready()
        store, closer = await shared.get()
        async for events in stream.take_events(1000, within=0.2):  # type: ignore[attr-defined]  # on Stream, not StreamT
            await aggregate_events(events, store=store, sink=sink, settings=settings)
            await close_quietly(closer)

    @app.timer(interval=settings.close_interval_s)
    async def close_when_quiet() -> None:
        if shared.closer is not None:
            await close_quietly(shared.closer)

    return aggregate
