"""The aggregate agent's steps without Kafka or Redis: unreadable records and late events become dead letters, a
batch is counted for as long as Redis is away, and a batch stopped mid-way is held back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.settings import Settings
from storage.aggregates import AddResult, ScoredItem
from storage.memory_aggregates import MemoryAggregateStore
from stream.aggregate_agent import aggregate_events, count_until_stored, late_letters, read_batch
from stream.score_stage import OutRecord

AT = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)


def scored(event_id: str, entities: Sequence[str] = ("ACME",)) -> bytes:
    """A record as the score stage publishes it (every field of the scored-event contract)."""
    record = {
        "id": event_id,
        "source": "wire",
        "kind": "news",
        "entities": list(entities),
        "sentiment": {"label": "negative", "score": -0.5, "probs": [0.6, 0.3, 0.1]},
        "model": {"name": "sentiment", "version": "1"},
        "published_at": AT.isoformat(),
        "scored_at": AT.isoformat(),
        "text": "text",
    }
    return json.dumps(record).encode()


def events(*values: bytes) -> list[Any]:
    return [
        SimpleNamespace(
            value=v,
            key=None,
            message=SimpleNamespace(topic="radar.scored", partition=1, offset=i, acked=False),
        )
        for i, v in enumerate(values)
    ]


class Sink:
    def __init__(self) -> None:
        self.sent: list[OutRecord] = []

    async def send(self, record: OutRecord) -> None:
        self.sent.append(record)


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class AwayStore:
    """Redis away for ``times`` calls, then the in-memory store."""

    def __init__(self, times: int, error: Exception) -> None:
        self.times, self.error, self.calls = times, error, 0
        self.inner = MemoryAggregateStore()

    async def add_batch(self, items: Sequence[ScoredItem]) -> AddResult:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return await self.inner.add_batch(items)


def test_unreadable_records_become_dead_letters_and_the_rest_go_on() -> None:
    batch = events(scored("a"), b"{not json", scored("b"))
    items, read, letters = read_batch(batch)
    assert [i.id for i in items] == ["a", "b"] and read == [batch[0], batch[2]]
    (letter,) = letters
    assert letter.reason.startswith("unreadable scored event") and (letter.stage, letter.offset) == ("aggregate", 1)


def test_a_late_event_says_which_closed_minute_it_missed() -> None:
    batch = events(scored("a"), scored("b"))
    items, read, _ = read_batch(batch)
    (letter,) = late_letters(AddResult(counted=1, late=[1]), items, read, lateness_s=30.0)
    assert letter.reason == "late: its minute (2026-03-02 09:30 UTC) was already closed (lateness 30 s); not counted"
    assert letter.offset == 1


@pytest.mark.parametrize("error", [aioredis.ConnectionError("refused"), aioredis.TimeoutError("slow")])
async def test_a_batch_is_counted_for_as_long_as_redis_is_away(error: Exception) -> None:
    store, sleeps = AwayStore(3, error), Sleeps()
    items, _, _ = read_batch(events(scored("a")))
    result = await count_until_stored(store, items, sleep=sleeps)
    assert (result.counted, store.calls, len(sleeps.waits)) == (1, 4, 3)
    assert all(0 <= w <= 0.2 * 2**n for n, w in enumerate(sleeps.waits))


async def test_any_other_store_error_propagates() -> None:
    store = AwayStore(1, ValueError("a bug"))
    with pytest.raises(ValueError):
        await count_until_stored(store, [], sleep=Sleeps())


async def test_a_batch_sends_its_dead_letters(settings: Settings) -> None:
    store, sink = AwayStore(0, ValueError()), Sink()
    await store.inner.set_closed_through(int(AT.timestamp() // 60))  # the events' minute is closed: late
    await aggregate_events(events(scored("a"), b"\x00"), store=store, sink=sink, settings=settings)
    reasons = [json.loads(r.value)["reason"] for r in sink.sent]
    assert {r.topic for r in sink.sent} == {settings.topics.deadletter}
    assert reasons[0].startswith("unreadable") and reasons[1].startswith("late:")


async def test_a_batch_stopped_mid_way_is_held_back(settings: Settings) -> None:
    class Stopping(Sink):
        async def send(self, record: OutRecord) -> None:
            raise asyncio.CancelledError

    batch = events(b"{not json")
    with pytest.raises(asyncio.CancelledError):
        await aggregate_events(batch, store=MemoryAggregateStore(), sink=Stopping(), settings=settings)
    assert batch[0].message.acked


def test_non_finite_and_out_of_range_scores_are_dead_letters_with_their_reason() -> None:
    nan = scored("n").replace(b'"score": -0.5', b'"score": NaN')
    huge = scored("h").replace(b'"score": -0.5', b'"score": 1e200')
    entity = scored("x", entities=("not an id!",))
    items, read, letters = read_batch(events(nan, huge, entity, scored("ok")))
    assert [item.id for item in items] == ["ok"] and len(read) == 1
    reasons = [letter.reason for letter in letters]
    assert len(reasons) == 3 and all(r.startswith("unreadable scored event: ") for r in reasons)
    assert "sentiment.score" in reasons[0] and "sentiment.score" in reasons[1] and "entities" in reasons[2], reasons
