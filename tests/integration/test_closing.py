"""Closing minutes on the real Redis and Kafka: a partition that is behind holds its minutes open, one that has
nothing left to read does not, and Kafka's committed offsets tell the two apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from core.alerts import Evidence
from core.settings import Settings
from storage.aggregates import AggregateStore, ScoredItem
from stream.backlog import Backlog, KafkaBacklog, partition_name
from stream.closer import MinuteCloser
from stream.minute_sink import ClosedMinute

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WALL = (T0 + timedelta(days=1)).timestamp()  # the wall clock the closer is told: after the events, as in life
BASE = int(T0.timestamp() // 60)


def _items(first: int, minutes: range, partition: str, entity: str = "ACME") -> list[ScoredItem]:
    at = [T0 + timedelta(minutes=m, seconds=30) for m in minutes]
    return [
        ScoredItem(f"{partition}-{first + i}", "news", (entity,), "neutral", 0.0, t, "text") for i, t in enumerate(at)
    ]


class Looks:
    """The backlog as a test sets it (the Kafka side has its own test below)."""

    def __init__(self) -> None:
        self.heads: dict[str, float | None] = {}

    async def snapshot(self) -> Backlog:
        return Backlog(pending=frozenset(self.heads), heads=dict(self.heads))


class Minutes:
    def __init__(self) -> None:
        self.closed: list[int] = []

    async def emit(self, closed: ClosedMinute) -> None:
        self.closed.append(closed.minute)


async def test_a_partition_that_is_behind_holds_every_minute_open(store: AggregateStore) -> None:
    backlog, sink = Looks(), Minutes()
    closer = MinuteCloser(store, sink, backlog, lateness_s=30, idle_grace_s=60)
    await store.add_batch(_items(0, range(0, 11), "raw:0") + _items(100, range(0, 41), "raw:1"))
    assert await store.watermark() == (T0 + timedelta(minutes=40, seconds=30)).timestamp()

    backlog.heads = {"raw:0": (T0 + timedelta(minutes=11, seconds=30)).timestamp()}  # its worker waits for Triton
    await closer.close_ready(WALL + 1000.0)
    assert sink.closed == list(range(BASE, BASE + 11)), "only minutes before raw:0's head minus lateness close"
    await closer.close_ready(WALL + 1100.0)
    assert sink.closed[-1] == BASE + 10, "a stuck partition is not taken for a quiet one, however long it waits"

    await store.add_batch(_items(0, range(11, 41), "raw:0"))  # raw:0 catches up
    backlog.heads = {}
    await closer.close_ready(WALL + 1101.0)  # nothing pending, nothing newer for 100 s: quiet, the last closes too
    assert sink.closed == list(range(BASE, BASE + 41))


def _raw(event_id: str, minute: int) -> bytes:
    at = T0 + timedelta(minutes=minute)
    return json.dumps({"id": event_id, "source": "s", "text": "t", "published_at": at.isoformat()}).encode()


async def test_kafka_reports_heads_and_scored_progress(fresh_topics) -> None:  # type: ignore[no-untyped-def]
    """The raw heads are the first *valid* uncommitted records (junk is dead-lettered, never counted, so it holds
    nothing); the scored side reports end offsets and the group's committed positions."""
    settings: Settings = fresh_topics(partitions=3)
    raw, scored = settings.topics.raw_news, settings.topics.scored
    producer = KafkaProducer(**settings.kafka_python_config())
    for i in range(5):
        producer.send(raw, _raw(f"r{i}", 10 + i), partition=1)
    producer.send(raw, b"{not json", partition=2)
    producer.send(raw, _raw("late-valid", 3), partition=2)
    producer.send(raw, b"junk only", partition=0)
    for _ in range(4):
        producer.send(scored, b"{}", partition=0)
    producer.flush()
    producer.close()

    backlog = KafkaBacklog(settings, [raw], scored)
    consumer = KafkaConsumer(
        **settings.kafka_python_config(), group_id=settings.consumer_group, enable_auto_commit=False
    )
    try:
        look = await backlog.snapshot()
        name = partition_name
        assert look.pending == {name(raw, 0), name(raw, 1), name(raw, 2), name(scored, 0)}
        minute = lambda m: (T0 + timedelta(minutes=m)).timestamp()  # noqa: E731
        heads = {name(raw, 1): minute(10), name(raw, 2): minute(3)}
        assert look.heads == heads, "junk skipped, junk alone holds nothing"
        assert (look.published[name(scored, 0)], look.counted[name(scored, 0)]) == (4, 0)

        consumer.commit(
            {
                TopicPartition(raw, 1): OffsetAndMetadata(3, "", -1),
                TopicPartition(raw, 2): OffsetAndMetadata(2, "", -1),
                TopicPartition(scored, 0): OffsetAndMetadata(4, "", -1),
            }
        )
        look = await backlog.snapshot()
        assert look.heads == {name(raw, 1): minute(13)}, "two of partition 1's five are left"
        assert look.counted_through({name(scored, 0): 4}) and name(scored, 0) not in look.pending
        consumer.commit({TopicPartition(raw, p): OffsetAndMetadata(5 if p == 1 else 1, "", -1) for p in (0, 1)})
        assert (await backlog.snapshot()).pending == set()
    finally:
        consumer.close()
        backlog.close()


async def test_evidence_carries_each_event_source_and_reads_old_snippets(store: AggregateStore) -> None:
    at = T0 + timedelta(minutes=3, seconds=10)
    items = [
        ScoredItem(f"ev-{i}", "social", ("ACME",), "negative", -0.1 * i, at, f"text {i}", source=f"feed-{i}")
        for i in range(1, 8)
    ]
    await store.add_batch(items)
    old = json.dumps({"id": "old-1", "text": "kept by the release before", "score": -0.95})  # no "source"
    await store.client.lpush(store.keys.evidence("ACME", BASE + 3), old)
    evidence = await store.evidence("ACME", BASE, BASE + 5)
    assert all(isinstance(e, Evidence) for e in evidence)
    assert [(e.id, e.source) for e in evidence] == [
        ("old-1", None),
        ("ev-7", "feed-7"),
        ("ev-6", "feed-6"),
        ("ev-5", "feed-5"),
        ("ev-4", "feed-4"),
    ]
