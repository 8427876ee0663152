"""The minute closer's rules on the in-memory store (storage.memory_aggregates), no Redis: when a minute may close,
that it closes once and in order, and that ``closed_through`` moves only after the sink has the minute. The same
rules run on real Redis in tests/integration/test_closing.py."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.alerts import Alert
from core.domain import Rollup
from core.samples import sample_alert
from storage.aggregates import ScoredItem
from storage.memory_aggregates import MemoryAggregateStore
from storage.minute_store import MinuteStore
from storage.redis_keys import ALL_ENTITIES
from stream.backlog import Backlog
from stream.closer import MinuteCloser
from stream.minute_sink import ClosedMinute

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WALL = (T0 + timedelta(days=1)).timestamp()  # the wall clock the closer is told: after the events, as in life
BASE = int(T0.timestamp() // 60)


def items(first: int, minutes: range, partition: str, entity: str = "ACME") -> list[ScoredItem]:
    at = [T0 + timedelta(minutes=m, seconds=30) for m in minutes]
    return [
        ScoredItem(f"{partition}-{first + i}", "news", (entity,), "neutral", 0.0, t, "text") for i, t in enumerate(at)
    ]


def at_minute(minute: float) -> float:
    return (T0 + timedelta(minutes=minute)).timestamp()


class Kafka:
    """What Kafka tells the closer, as a test sets it: the head (first uncommitted event time) of every raw partition
    that is behind, and how far the one scored partition is published and counted."""

    def __init__(self, heads: dict[str, float | None] | None = None, published: int = 0, counted: int = 0) -> None:
        self.heads = dict(heads or {})
        self.published, self.counted = published, counted

    async def snapshot(self) -> Backlog:
        scored_behind = {"scored:0"} if self.counted < self.published else set()
        return Backlog(
            pending=frozenset(self.heads) | scored_behind,
            heads=dict(self.heads),
            published={"scored:0": self.published},
            counted={"scored:0": self.counted},
        )


class Sink:
    """Records what the closer hands over; can be told to fail on one minute (the SQL store away)."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.closed: list[int] = []
        self.alerts: list[Alert] = []
        self.resolved: list[tuple[int, Alert]] = []
        self.rollups: list[Rollup] = []
        self.fail_on = fail_on

    async def emit(self, closed: ClosedMinute) -> None:
        if closed.minute == self.fail_on:
            raise ConnectionError("the SQL store is away")
        self.closed.append(closed.minute)
        self.alerts += closed.opened
        self.resolved += [(closed.minute, alert) for alert in closed.resolved]
        self.rollups += closed.rollups


def closer_for(store: MinuteStore, sink: Sink, backlog: Kafka, **kwargs: Any) -> MinuteCloser:
    options: dict[str, Any] = {"lateness_s": 30, "idle_grace_s": 60, **kwargs}
    return MinuteCloser(store, sink, backlog, **options)


@pytest.fixture
def store() -> MemoryAggregateStore:
    return MemoryAggregateStore()


async def test_a_partition_that_is_behind_holds_every_minute_open(store: MemoryAggregateStore) -> None:
    kafka, sink = Kafka({"raw:0": at_minute(11.5)}), Sink()  # raw:0's worker waits for Triton from minute 11 on
    closer = closer_for(store, sink, kafka)
    await store.add_batch(items(0, range(0, 11), "raw:0") + items(100, range(0, 41), "raw:1"))
    await closer.close_ready(WALL + 1000.0)
    assert sink.closed == list(range(BASE, BASE + 11)), "only minutes before raw:0's head minus lateness close"
    await closer.close_ready(WALL + 1100.0)
    assert sink.closed[-1] == BASE + 10, "a stuck partition is not taken for a quiet one, however long it waits"

    await store.add_batch(items(0, range(11, 41), "raw:0"))  # raw:0 catches up
    kafka.heads = {}
    await closer.close_ready(WALL + 1101.0)  # nothing pending, nothing newer for 100 s: quiet, the last closes too
    assert sink.closed == list(range(BASE, BASE + 41))
    assert await store.closed_through() == BASE + 40


async def test_an_old_event_left_in_a_scored_partition_holds_its_minute(store: MemoryAggregateStore) -> None:
    """The lost event of issue 24: every raw partition is committed (its records all published), but the scored
    partition of a killed worker still holds an event of minute 5 behind records of minute 40 that were counted.
    Nothing may close until the scored commits reach what was published."""
    kafka, sink = Kafka(published=120, counted=100), Sink()
    closer = closer_for(store, sink, kafka)
    await store.add_batch(items(0, range(0, 5), "raw:0") + items(100, range(6, 41), "raw:1"))
    for now in (1000.0, 1010.0, 1100.0):
        await closer.close_ready(WALL + now)
    assert sink.closed == [], "the scored partition is behind: no bound is confirmed"

    old = items(50, range(5, 6), "raw:0")
    assert (await store.add_batch(old)).counted == 1, "not late: its minute is still open"
    kafka.counted = 120  # the new owner counted the partition through what was published
    await closer.close_ready(WALL + 1101.0)
    assert sink.closed == list(range(BASE, BASE + 41))
    assert [r.stats.n for r in sink.rollups if r.entity == "ACME" and r.minute == BASE + 5] == [1]


async def test_a_bound_waits_for_the_scored_commits_of_its_own_look(store: MemoryAggregateStore) -> None:
    kafka, sink = Kafka(published=10, counted=4), Sink()
    closer = closer_for(store, sink, kafka)
    await store.add_batch(items(0, range(0, 20), "raw:0"))
    await closer.close_ready(WALL + 1.0)
    assert sink.closed == []
    kafka.published, kafka.counted = 30, 10  # more was published meanwhile; the first look's records are counted
    await closer.close_ready(WALL + 2.0)
    assert sink.closed == list(range(BASE, BASE + 19)), "the first look's bound (minute 19:30 less lateness)"


async def test_a_partition_with_nothing_to_read_holds_nothing(store: MemoryAggregateStore) -> None:
    sink = Sink()
    closer = closer_for(store, sink, Kafka({"raw:1": at_minute(21.5)}))  # raw:0 quiet since minute 2
    await store.add_batch(items(0, range(0, 3), "raw:0") + items(100, range(0, 21), "raw:1"))
    await closer.close_ready(WALL + 1000.0)
    assert sink.closed == list(range(BASE, BASE + 20)), "up to the largest event time counted, less lateness"


async def test_a_head_not_read_yet_holds_everything(store: MemoryAggregateStore) -> None:
    sink = Sink()
    closer = closer_for(store, sink, Kafka({"raw:0": None}))  # raw:0's first record could not be read in time
    await store.add_batch(items(100, range(0, 21), "raw:1"))
    for now in (1000.0, 1006.0, 1100.0):
        await closer.close_ready(WALL + now)
    assert sink.closed == []


async def test_no_minute_closes_past_the_wall_clock_plus_the_skew(store: MemoryAggregateStore) -> None:
    sink = Sink()
    closer = closer_for(store, sink, Kafka(), max_future_s=300)
    await store.add_batch(items(0, range(0, 30), "raw:0"))
    wall = (T0 + timedelta(minutes=5)).timestamp()  # events stamped up to 25 minutes ahead of this clock
    await closer.close_ready(wall)
    await closer.close_ready(wall + 6.0)
    assert sink.closed == list(range(BASE, BASE + 10)), "minutes that ended by the clock + 306 s, and no further"


async def test_one_closer_at_a_time(store: MemoryAggregateStore) -> None:
    sink = Sink()
    closer = closer_for(store, sink, Kafka())
    await store.add_batch(items(0, range(0, 5), "raw:0"))
    async with store.close_lock() as held:  # another worker is closing
        assert held
        assert await closer.close_ready(WALL) == 0
        assert await closer.close_ready(WALL + 100.0) == 0
    assert await closer.close_ready(WALL + 101.0) == 5
    assert sink.closed == list(range(BASE, BASE + 5))


async def test_a_closer_whose_lease_is_lost_stops_before_its_next_minute(store: MemoryAggregateStore) -> None:
    class Losing(Sink):
        lease: Any = None

        async def emit(self, closed: ClosedMinute) -> None:
            await super().emit(closed)
            if closed.minute == BASE + 2:
                self.lease.lost = True  # the store's renewal found another closer holding the lock

    sink = Losing()
    closer = closer_for(store, sink, Kafka())
    await store.add_batch(items(0, range(0, 8), "raw:0"))
    original = store.close_lock

    @contextlib.asynccontextmanager
    async def watched_lock(ttl_s: int = 30) -> Any:
        async with original(ttl_s) as lease:
            sink.lease = lease
            yield lease

    store.close_lock = watched_lock  # type: ignore[method-assign]
    assert await closer.close_ready(WALL + 101.0) == 3
    assert sink.closed == [BASE, BASE + 1, BASE + 2] and await store.closed_through() == BASE + 2


async def test_a_minute_the_sink_failed_is_closed_again_not_skipped(store: MemoryAggregateStore) -> None:
    sink = Sink(fail_on=BASE + 3)
    closer = closer_for(store, sink, Kafka())
    await store.add_batch(items(0, range(0, 8), "raw:0"))
    with pytest.raises(ConnectionError):
        await closer.close_ready(WALL)
    assert (sink.closed, await store.closed_through()) == (list(range(BASE, BASE + 3)), BASE + 2)
    sink.fail_on = None
    assert await closer.close_ready(WALL + 101.0) == 5
    assert sink.closed == list(range(BASE, BASE + 8))


async def test_at_most_max_minutes_per_call(store: MemoryAggregateStore) -> None:
    sink = Sink()
    closer = closer_for(store, sink, Kafka(), max_minutes=4)
    await store.add_batch(items(0, range(0, 10), "raw:0"))
    counts = [await closer.close_ready(WALL + 100.0 * i) for i in range(5)]
    assert (counts, sink.closed) == ([4, 4, 2, 0, 0], list(range(BASE, BASE + 10)))


async def test_rollups_cover_every_entity_with_events_and_the_total(store: MemoryAggregateStore) -> None:
    sink = Sink()
    closer = closer_for(store, sink, Kafka())
    await store.add_batch(items(0, range(0, 2), "raw:0") + items(10, range(1, 2), "raw:0", entity="GLOBEX"))
    await closer.close_ready(WALL)
    await closer.close_ready(WALL + 100.0)  # quiet: everything counted closes
    got = sorted((r.minute - BASE, r.entity, r.stats.n) for r in sink.rollups)
    assert got == [(0, "ACME", 1), (0, ALL_ENTITIES, 1), (1, "ACME", 1), (1, "GLOBEX", 1), (1, ALL_ENTITIES, 2)]
    assert set((await store.load_detectors(["ACME", "GLOBEX"])).keys()) == {"ACME", "GLOBEX"}


def _burst(minute: int, n: int, label: str, score: float, tag: str) -> list[ScoredItem]:
    at = T0 + timedelta(minutes=minute, seconds=20)
    return [
        ScoredItem(f"{tag}{minute}-{i}", "social", ("ACME",), label, score, at, f"{tag} {i}", source="sim-social")
        for i in range(n)
    ]


async def test_a_negative_storm_raises_alerts_with_the_most_negative_evidence(store: MemoryAggregateStore) -> None:
    sink = Sink()
    closer = closer_for(store, sink, Kafka())
    for minute in range(60):  # an hour of calm: one negative, one neutral, two positive a minute
        calm = [("negative", -0.4), ("neutral", 0.0), ("positive", 0.5), ("positive", 0.4)]
        await store.add_batch([_burst(minute, 1, label, s, f"c{k}")[0] for k, (label, s) in enumerate(calm)])
    for minute in range(60, 64):
        await store.add_batch(_burst(minute, 34, "negative", -0.9, "storm") + _burst(minute, 6, "neutral", 0.0, "n"))
    await closer.close_ready(WALL)
    await closer.close_ready(WALL + 100.0)
    assert sink.closed == list(range(BASE, BASE + 64))
    assert {a.detector for a in sink.alerts} == {"negative_cusum", "negative_surge", "sentiment_shift", "volume_spike"}
    for alert in sink.alerts:
        assert isinstance(alert, Alert) and alert.entity == "ACME" and alert.evidence
        assert all(e.score == -0.9 for e in alert.evidence), "the most negative events are the evidence"
        assert all(e.source == "sim-social" for e in alert.evidence), "each with its source"
    before = len(sink.alerts)
    await store.set_closed_through(BASE + 59)  # a crash before closed_through moved: the minutes close again
    await closer.close_ready(WALL + 200.0)
    assert len(sink.alerts) == before, "a minute closed again raises nothing twice"


async def test_the_memory_store_counts_once_and_refuses_late_events(store: MemoryAggregateStore) -> None:
    batch = items(0, range(0, 3), "raw:0")
    first = await store.add_batch(batch)
    again = await store.add_batch(batch)
    assert (first.counted, first.duplicates, again.counted, again.duplicates) == (3, 0, 0, 3)
    await store.set_closed_through(BASE + 1)
    late = items(50, range(1, 3), "raw:0")
    result = await store.add_batch([*late, late[0]])
    assert (result.counted, result.late, result.duplicates) == (1, [0], 1), "a late id stays seen"
    stats = await store.minute_stats(["ACME", ALL_ENTITIES, "NOBODY"], BASE + 2)
    assert (stats["ACME"].n, stats[ALL_ENTITIES].n, stats["NOBODY"].n) == (2, 2, 0)
    assert await store.first_minute() == BASE and await store.active_entities(BASE + 2) == ["ACME"]


async def test_a_bound_is_used_only_once_it_has_settled(store: MemoryAggregateStore) -> None:
    """A margin in wall time for producers that write different partitions out of step (fast replays)."""
    sink = Sink()
    closer = closer_for(store, sink, Kafka(), settle_s=5)
    await store.add_batch(items(0, range(0, 20), "raw:0"))
    await closer.close_ready(WALL + 1.0)
    await closer.close_ready(WALL + 5.0)
    assert sink.closed == []
    await closer.close_ready(WALL + 6.0)
    assert sink.closed == list(range(BASE, BASE + 19))


class Progress:
    """SQL's memory of the closing, as a test sets it."""

    def __init__(self, closed_through: int | None, unresolved: Sequence[Alert] = ()) -> None:
        self.closed, self.unresolved, self.asked = closed_through, list(unresolved), 0

    async def closed_through(self) -> int | None:
        self.asked += 1
        return self.closed

    async def unresolved_alerts(self) -> list[Alert]:
        return list(self.unresolved)


def _open_alert(minute: int) -> Alert:
    return sample_alert(start=T0 + timedelta(minutes=minute))


async def test_a_redis_that_lost_its_state_resumes_after_the_minute_sql_closed(store: MemoryAggregateStore) -> None:
    """Redis came back empty while SQL has minutes 0-9 closed and an alert open: the closer resumes at minute 10
    (an event of minute 3 is late, not counted into a minute closed before), and the alert is adopted and
    resolves once its detector has been normal for the resolve time."""
    from prometheus_client import REGISTRY

    lost_before = REGISTRY.get_sample_value("radar_redis_state_lost_total") or 0.0
    sink, alert = Sink(), _open_alert(8)
    closer = closer_for(store, sink, Kafka(), progress=Progress(BASE + 9, [alert]), resolve_after_s=300)
    await store.add_batch(items(0, range(12, 30), "raw:0"))
    await closer.close_ready(WALL + 1.0)
    await closer.close_ready(WALL + 101.0)  # quiet: the last minute closes too
    assert sink.closed == list(range(BASE + 10, BASE + 30))
    assert REGISTRY.get_sample_value("radar_redis_state_lost_total") == lost_before + 1
    assert [(a.key, a.status.value) for _, a in sink.resolved] == [(alert.key, "resolved")]
    late = await store.add_batch(items(100, range(3, 4), "raw:0"))
    assert (late.counted, late.late) == (0, [0]), "minute 3 was closed before the loss: late"


async def test_an_empty_redis_with_nothing_in_sql_is_a_fresh_start_asked_once(store: MemoryAggregateStore) -> None:
    sink, progress = Sink(), Progress(None)
    closer = closer_for(store, sink, Kafka(), progress=progress)
    await store.add_batch(items(0, range(0, 5), "raw:0"))
    for now in (1.0, 2.0, 3.0, 101.0):
        await closer.close_ready(WALL + now)
    assert sink.closed == list(range(BASE, BASE + 5))
    assert progress.asked == 1, "SQL is asked when Redis first has nothing closed, not every round"


async def test_a_failed_look_at_kafka_restarts_the_quiet_wait(store: MemoryAggregateStore) -> None:
    """While the broker is away producers hold records back: the stream is quiet only after a whole grace of
    looks that worked, not because the watermark stood still through the outage."""

    class Away(Kafka):
        down = False

        async def snapshot(self) -> Backlog:
            if self.down:
                raise ConnectionError("Kafka away")
            return await super().snapshot()

    kafka, sink = Away(), Sink()
    closer = closer_for(store, sink, kafka)  # idle grace 60 s
    await store.add_batch(items(0, range(0, 5), "raw:0"))
    await closer.close_ready(WALL)  # minutes 0-3 close; minute 4 waits for quiet
    kafka.down = True
    with pytest.raises(ConnectionError):
        await closer.close_ready(WALL + 50.0)
    kafka.down = False
    await closer.close_ready(WALL + 70.0)  # 70 s since the watermark moved, but only 20 s since Kafka was seen
    assert sink.closed == list(range(BASE, BASE + 4))
    await closer.close_ready(WALL + 111.0)
    assert sink.closed == list(range(BASE, BASE + 5))
