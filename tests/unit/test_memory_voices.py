"""The in-memory store counts voices as the Redis one does (tests/integration/test_aggregates.py): distinct authors
over the quarter hour to a minute's end, news and social together, the source for an event without an author."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from storage.aggregates import ScoredItem
from storage.memory_aggregates import MemoryAggregateStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _item(i: int, minute: int, author: str | None, source: str | None = None) -> ScoredItem:
    at = T0 + timedelta(minutes=minute, seconds=i % 60)
    kind = "news" if i % 2 else "social"
    return ScoredItem(f"e{i}", kind, ("ACME",), "neutral", 0.0, at, "t", source=source, author=author)


async def test_voices_are_exact_distinct_authors_over_the_window() -> None:
    store = MemoryAggregateStore()
    base = int(T0.timestamp() // 60)
    thread = [_item(i, 3, f"acct{i % 3}") for i in range(60)]
    crowd = [_item(100 + i, 10 + i % 5, f"person{i}") for i in range(60)]
    wire = [_item(200 + i, 12, None, source="wire") for i in range(5)]
    await store.add_batch(thread + crowd + wire + [replace(thread[0], id="again", author=None)])
    assert (await store.minute_stats(["ACME"], base + 14))["ACME"].voices == 3 + 60 + 1
    assert (await store.minute_stats(["ACME"], base + 20))["ACME"].voices == 60 + 1
    assert (await store.minute_stats(["ACME"], base + 40))["ACME"].voices == 0
