"""Redis aggregates on the real server: exactly-once counting, TTLs, windows, late events, the closing lock."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from storage.aggregates import AggregateStore, ScoredItem

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _item(i: int, minute: int, entities=("ACME",), label="positive", score=0.5) -> ScoredItem:  # type: ignore[no-untyped-def]
    return ScoredItem(
        f"e{i}",
        "news" if i % 2 else "social",
        tuple(entities),
        label,
        score,
        T0 + timedelta(minutes=minute, seconds=i % 60),
        f"text {i}",
    )


async def test_redelivered_events_never_count_twice(store: AggregateStore) -> None:
    items = [
        _item(i, minute=i % 5, label=("negative", "neutral", "positive")[i % 3], score=(i % 3 - 1) * 0.5)
        for i in range(300)
    ]
    first = await store.add_batch(items)
    again = await store.add_batch(items[:150] + items[:150])
    assert (first.counted, first.duplicates) == (300, 0)
    assert (again.counted, again.duplicates) == (0, 300)
    base = int(T0.timestamp() // 60)
    series = await store.series("ACME", base, base + 4)
    assert [s.n for s in series] == [60] * 5
    total = await store.window("ACME", end_minute=base + 4, minutes=5)
    assert (total.n, total.negative, total.neutral, total.positive) == (300, 100, 100, 100)
    assert total.total == pytest.approx(0.0)
    overall = await store.window("_all", end_minute=base + 4, minutes=5)
    assert overall.n == 300


async def test_every_key_has_a_ttl_and_the_prefix(store: AggregateStore) -> None:
    await store.add_batch([_item(i, minute=i) for i in range(10)])
    await store.save_detectors({"ACME": {"x": 1}})
    await store.set_closed_through(5)
    keys = [k async for k in store.client.scan_iter(f"{store.keys.prefix}*")]
    assert len(keys) > 20
    for key in keys:
        assert key.decode().startswith("radar:")
        assert await store.client.ttl(key) > 0, key


async def test_hour_buckets_serve_long_windows(store: AggregateStore) -> None:
    items = [_item(i, minute=i * 7 % 1440) for i in range(2000)]
    await store.add_batch(items)
    base = int(T0.timestamp() // 60)
    day = await store.window("ACME", end_minute=base + 1439, minutes=1440)
    hour = await store.window("ACME", end_minute=base + 89, minutes=60)
    expected_hour = sum(1 for i in range(2000) if 30 <= i * 7 % 1440 <= 89)
    assert day.n == 2000 and hour.n == expected_hour


async def test_a_late_event_is_not_counted_but_returned_for_its_dead_letter(store: AggregateStore) -> None:
    """A closed minute's detection is done: counting into it would change a rollup nobody reads again."""
    await store.add_batch([_item(i, minute=10) for i in range(5)])
    base = int(T0.timestamp() // 60)
    await store.set_closed_through(base + 10)
    result = await store.add_batch([_item(100, minute=9), _item(101, minute=11)])
    assert (result.counted, result.late) == (1, [0])
    assert (await store.minute_stats(["ACME"], base + 9))["ACME"].n == 0
    again = await store.add_batch([_item(100, minute=9)])  # redelivered: a duplicate, not a second dead letter
    assert (again.counted, again.duplicates, again.late) == (0, 1, [])


async def test_one_closer_at_a_time(store: AggregateStore) -> None:
    async with store.close_lock() as first, store.close_lock() as second:
        assert first and not second
    async with store.close_lock() as third:
        assert third


async def test_the_closing_lock_is_renewed_while_held_and_a_lost_one_says_so(store: AggregateStore) -> None:
    """Closing a long backlog outlasts one TTL: the holder's lease is renewed, so no second closer gets in; a
    holder that lost the lock (it expired while the process stalled and another took it) sees its lease false."""
    key = store.keys.close_lock
    async with store.close_lock(ttl_s=1) as held:
        await asyncio.sleep(2.5)  # past two TTLs
        assert held and await store.client.ttl(key) >= 0
        async with store.close_lock(ttl_s=1) as second:
            assert not second
        await store.client.set(key, "another closer", ex=30)  # as if ours expired and another took it
        await asyncio.sleep(0.8)
        assert not held and held.lost
    assert await store.client.get(key) == b"another closer", "a holder never releases another's lock"
    await store.client.delete(key)


async def test_the_script_refuses_a_bad_score_before_it_writes_anything(store: AggregateStore) -> None:
    """Defence behind the stage's validation: NaN, 1e200 or an unknown label never half-count an event."""
    base = int(T0.timestamp() // 60)
    bad = [_item(1, 5, score=float("nan")), _item(2, 5, score=1e200), _item(3, 5, label="furious"), _item(4, 5)]
    result = await store.add_batch(bad)
    assert (result.refused, result.counted) == ([0, 1, 2], 1)
    assert (await store.minute_stats(["ACME"], base + 5))["ACME"].n == 1
    again = await store.add_batch([_item(1, 5)])  # its id was never marked seen: a good copy still counts
    assert again.counted == 1


async def test_the_same_id_from_two_sources_counts_twice_and_a_repeat_once(store: AggregateStore) -> None:
    base = int(T0.timestamp() // 60)
    a, b = (replace(_item(7, 3), source=source) for source in ("wire-a", "wire-b"))
    assert (await store.add_batch([a, b, a])).counted == 2
    assert (await store.minute_stats(["ACME"], base + 3))["ACME"].n == 2


async def test_voices_are_the_distinct_authors_of_the_last_quarter_hour_over_both_kinds(store: AggregateStore) -> None:
    """A thread of 60 posts by three accounts is three voices; a crowd of 60 is 60 (HyperLogLog: within 2%); an
    event without an author speaks for its source; a redelivery adds no one; minutes out of the window do not count."""
    base = int(T0.timestamp() // 60)
    thread = [replace(_item(i, minute=3), author=f"acct{i % 3}") for i in range(60)]
    crowd = [replace(_item(100 + i, minute=10 + i % 5), author=f"person{i}") for i in range(60)]
    wire = [replace(_item(200 + i, minute=12), source="wire") for i in range(5)]
    early = [replace(_item(300, minute=0, entities=("GLBX",)), author="early")]
    await store.add_batch(thread + crowd + wire + early + thread[:10])
    at_14 = (await store.minute_stats(["ACME", "GLBX"], base + 14))["ACME"]
    assert at_14.n == 12 and 3 + 60 + 1 - 2 <= at_14.voices <= 3 + 60 + 1 + 2  # minutes 0..14: thread, crowd, wire
    later = await store.minute_stats(["ACME", "GLBX"], base + 20)  # minutes 6..20: the thread is out
    assert 60 - 2 <= later["ACME"].voices <= 60 + 1 + 2 and later["GLBX"].voices == 0
    assert (await store.minute_stats(["GLBX"], base + 14))["GLBX"].voices == 1
