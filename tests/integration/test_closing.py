"""Closing minutes on the real Redis and Kafka: a partition that is behind holds its minutes open, one that has
nothing left to read does not, and Kafka's committed offsets tell the two apart."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from core.alerts import Alert, Evidence
from core.settings import Settings
from storage.aggregates import AggregateStore, ScoredItem
from stream.backlog import KafkaBacklog, partition_name
from stream.closer import MinuteCloser, Rollup

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WALL = (T0 + timedelta(days=1)).timestamp()  # the wall clock the closer is told: after the events, as in life
BASE = int(T0.timestamp() // 60)


def _items(first: int, minutes: range, partition: str, entity: str = "ACME") -> list[ScoredItem]:
    return [
        ScoredItem(
            f"{partition}-{first + i}",
            "news",
            (entity,),
            "neutral",
            0.0,
            T0 + timedelta(minutes=m, seconds=30),
            "text",
            partitions=(partition, "scored:0"),
        )
        for i, m in enumerate(minutes)
    ]


class Pending:
    """The backlog as a test sets it (the Kafka side has its own test below)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    async def pending(self) -> set[str]:
        return set(self.names)


class Minutes:
    def __init__(self) -> None:
        self.closed: list[int] = []

    async def emit(
        self, minute: int, alerts: Sequence[Alert], rollups: Sequence[Rollup], resolved: Sequence[Alert] = ()
    ) -> None:
        self.closed.append(minute)


@pytest.fixture
async def store(stack, unique):  # type: ignore[no-untyped-def]
    client = aioredis.from_url(stack.redis_url)
    yield AggregateStore(client, prefix=f"radar:test{unique}:")
    keys = [k async for k in client.scan_iter(f"radar:test{unique}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_a_partition_that_is_behind_holds_every_minute_open(store: AggregateStore) -> None:
    backlog, sink = Pending(), Minutes()
    closer = MinuteCloser(store, sink, backlog, lateness_s=30, settle_s=5, idle_grace_s=60)
    await store.add_batch(_items(0, range(0, 11), "raw:0") + _items(100, range(0, 41), "raw:1"))
    assert await store.partition_marks() == {
        "raw:0": (T0 + timedelta(minutes=10, seconds=30)).timestamp(),
        "raw:1": (T0 + timedelta(minutes=40, seconds=30)).timestamp(),
        "scored:0": (T0 + timedelta(minutes=40, seconds=30)).timestamp(),
    }

    backlog.names = {"raw:0"}  # raw:0 has records nobody has counted yet (its worker is waiting for Triton)
    await closer.close_ready(WALL + 1000.0)
    await closer.close_ready(WALL + 1006.0)
    assert sink.closed == list(range(BASE, BASE + 10)), "only minutes before raw:0's mark minus lateness close"
    await closer.close_ready(WALL + 1100.0)
    assert sink.closed[-1] == BASE + 9, "a stuck partition is not taken for a quiet one, however long it waits"

    await store.add_batch(_items(0, range(11, 41), "raw:0"))  # raw:0 catches up
    backlog.names = set()
    await closer.close_ready(
        WALL + 1101.0
    )  # nothing pending, nothing newer for 100 s: quiet, the last minute closes too
    assert sink.closed == list(range(BASE, BASE + 41))


async def test_a_partition_with_nothing_to_read_holds_nothing(store: AggregateStore) -> None:
    backlog, sink = Pending(), Minutes()
    closer = MinuteCloser(store, sink, backlog, lateness_s=30, settle_s=5, idle_grace_s=60)
    await store.add_batch(_items(0, range(0, 3), "raw:0") + _items(100, range(0, 21), "raw:1"))
    backlog.names = {"raw:1"}  # raw:0 has been quiet since minute 2; raw:1 still has records to read
    await closer.close_ready(WALL + 1000.0)
    await closer.close_ready(WALL + 1006.0)
    assert sink.closed == list(range(BASE, BASE + 20))


async def test_a_pending_partition_without_a_mark_holds_everything(store: AggregateStore) -> None:
    backlog, sink = Pending(), Minutes()
    closer = MinuteCloser(store, sink, backlog, lateness_s=30, settle_s=5, idle_grace_s=60)
    await store.add_batch(_items(100, range(0, 21), "raw:1"))
    backlog.names = {"raw:0"}  # not one of raw:0's records counted yet
    for now in (1000.0, 1006.0, 1100.0):
        await closer.close_ready(WALL + now)
    assert sink.closed == []


async def test_kafka_reports_the_partitions_with_uncommitted_records(fresh_topics) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = fresh_topics(partitions=3)
    topic = settings.topics.raw_news
    producer = KafkaProducer(**settings.kafka_python_config())
    for i in range(5):
        producer.send(topic, f"r{i}".encode(), partition=1)
    producer.send(topic, b"other", partition=2)
    producer.flush()
    producer.close()

    backlog = KafkaBacklog(settings, [topic])
    try:
        assert await backlog.pending() == {partition_name(topic, 1), partition_name(topic, 2)}
        consumer = KafkaConsumer(
            **settings.kafka_python_config(), group_id=settings.consumer_group, enable_auto_commit=False
        )
        consumer.commit(
            {
                TopicPartition(topic, 1): OffsetAndMetadata(3, "", -1),
                TopicPartition(topic, 2): OffsetAndMetadata(1, "", -1),
            }
        )
        assert await backlog.pending() == {partition_name(topic, 1)}, "two of partition 1's five are left"
        consumer.commit({TopicPartition(topic, 1): OffsetAndMetadata(5, "", -1)})
        consumer.close()
        assert await backlog.pending() == set()
    finally:
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
