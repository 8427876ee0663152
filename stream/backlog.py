"""What Kafka knows about how far the pipeline has got: the minute closer's view of the uncounted events.

An event is uncounted while it waits in a raw partition (the score stage commits a raw offset only after the
scored record is acknowledged) or in a scored partition (the aggregate stage commits only after Redis counted it).
The closer needs a lower bound on the event time of everything uncounted, and neither topic's *counted* event
times give one: the scored topic merges records of every raw partition, written by several score workers (and, in
one worker, by concurrent batches), so a scored partition can hold an old event behind newer ones that were
already counted. Kafka gives an exact answer instead, in two steps (:class:`Backlog` is one snapshot):

1. the raw side: a raw partition with uncommitted records holds back to the event time of its first uncommitted
   valid record, its *head* (read here, once per committed offset); a raw partition with nothing uncommitted
   holds nothing;
2. the scored side: everything a raw commit covers was published before that commit, so it lies below the scored
   topic's end offsets as read *after* the raw commits; once the aggregate stage's commits reach those end
   offsets, it has all been counted.

So the bound of a snapshot (the smallest head, or the largest counted event time where no raw partition holds
anything) becomes true once a later snapshot shows the scored partitions committed through the first one's end
offsets: :mod:`stream.closer` keeps the snapshots and uses the newest confirmed one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError

from core.errors import EventError
from core.settings import Settings
from stream.events import decode_event

__all__ = ["Backlog", "KafkaBacklog", "partition_name"]


def partition_name(topic: str, partition: int) -> str:
    """How a partition is named in backlogs.

    >>> partition_name("radar.raw.news", 3)
    'radar.raw.news:3'
    """
    return f"{topic}:{partition}"


@dataclass(frozen=True)
class Backlog:
    """One look at Kafka: the partitions with uncommitted records, the raw heads, the scored offsets.

    ``heads`` has an entry for every pending raw partition that holds a valid event: its event time, or None
    while it could not be read (which holds everything). ``published`` and ``counted`` are the scored
    partitions' end offsets and the group's committed positions, read after the raw commits.
    """

    pending: frozenset[str] = frozenset()
    heads: Mapping[str, float | None] = field(default_factory=dict)
    published: Mapping[str, int] = field(default_factory=dict)
    counted: Mapping[str, int] = field(default_factory=dict)

    def bound(self, high: float) -> float | None:
        """The event time every event still in a raw partition is at or after (up to the producers' disorder,
        which the allowed lateness covers); ``high`` where none holds anything; None while a head is unknown.

        >>> Backlog(heads={"raw:0": 600.0, "raw:1": 900.0}).bound(1000.0)
        600.0
        >>> Backlog().bound(1000.0)  # nothing left to read: everything up to the largest event time is in
        1000.0
        >>> Backlog(heads={"raw:0": None}).bound(1000.0) is None
        True
        """
        if any(head is None for head in self.heads.values()):
            return None
        return min([high, *(head for head in self.heads.values() if head is not None)])

    def counted_through(self, published: Mapping[str, int]) -> bool:
        """Whether every scored record published by an earlier snapshot (its ``published``) is counted now.

        >>> Backlog(counted={"scored:0": 7, "scored:1": 3}).counted_through({"scored:0": 7, "scored:1": 2})
        True
        >>> Backlog(counted={"scored:0": 6}).counted_through({"scored:0": 7})
        False
        """
        return all(self.counted.get(name, -1) >= end for name, end in published.items())


class KafkaBacklog:
    """``await kafka.snapshot()``: a :class:`Backlog` of the raw ``topics`` and the ``scored`` topic."""

    def __init__(
        self,
        settings: Settings,
        raw: Sequence[str],
        scored: str,
        *,
        group: str | None = None,
        head_timeout_s: float = 5.0,
    ) -> None:
        self.settings, self.raw, self.scored = settings, list(raw), scored
        self.group = group or settings.consumer_group
        self.kind_of_topic = {settings.topics.raw_news: "news", settings.topics.raw_social: "social"}
        self.head_timeout_s = head_timeout_s
        self._admin: KafkaAdminClient | None = None
        self._reader: KafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        # (partition, committed position) -> (its head if found, the offset read through)
        self._heads: dict[tuple[TopicPartition, int], tuple[float | None, int]] = {}
        self._lock = asyncio.Lock()

    def _client(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = KafkaAdminClient(**self.settings.kafka_python_config(), request_timeout_ms=5000)
        return self._admin

    def _consumer(self) -> KafkaConsumer:
        if self._reader is None:
            self._reader = KafkaConsumer(
                **self.settings.kafka_python_config(),
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",  # a committed offset that retention deleted: from the log start
                max_poll_records=500,
                request_timeout_ms=6000,
            )
        return self._reader

    def _snapshot(self, retry_for_s: float = 15.0) -> Backlog:
        """Retriable errors (a fresh broker creating its offsets topic, a coordinator moving) are retried here."""
        deadline = time.monotonic() + retry_for_s
        while True:
            try:
                return self._snapshot_once()
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _snapshot_once(self) -> Backlog:
        admin = self._client()
        if not self._partitions:  # topics do not shrink; new partitions are picked up after a restart
            described = admin.describe_topics([*self.raw, self.scored])
            self._partitions = [
                TopicPartition(t["name"], p["partition_index"]) for t in described for p in t["partitions"]
            ]
        # the commits first, then the end offsets: a raw commit read here covers records published before it,
        # which therefore lie below the scored end offsets read after it
        committed = admin.list_group_offsets({self.group: self._partitions}).get(self.group, {})
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in self._partitions})
        uncommitted = [tp for tp in self._partitions if committed.get(tp) is None or committed[tp].offset < 0]
        starts = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in uncommitted}) if uncommitted else {}
        positions = {}
        for tp in self._partitions:
            done = committed.get(tp)
            positions[tp] = done.offset if done is not None and done.offset >= 0 else starts[tp].offset
        behind = {tp for tp in self._partitions if ends[tp].offset > positions[tp]}
        raw_behind = [tp for tp in behind if tp.topic != self.scored]
        heads = self._read_heads(raw_behind, positions, {tp: ends[tp].offset for tp in raw_behind})
        scored = [tp for tp in self._partitions if tp.topic == self.scored]
        return Backlog(
            pending=frozenset(partition_name(tp.topic, tp.partition) for tp in behind),
            heads={partition_name(tp.topic, tp.partition): head for tp, head in heads.items()},
            published={partition_name(tp.topic, tp.partition): ends[tp].offset for tp in scored},
            counted={partition_name(tp.topic, tp.partition): positions[tp] for tp in scored},
        )

    def _read_heads(
        self,
        partitions: Iterable[TopicPartition],
        positions: Mapping[TopicPartition, int],
        ends: Mapping[TopicPartition, int],
    ) -> dict[TopicPartition, float | None]:
        """The event time of each partition's first valid record at or after its committed position: left out
        where there is none before its end, None where the read ran out of time. A head found is kept for as long
        as the position stays; a partition of junk is read on from where the last look stopped."""
        self._heads = {key: found for key, found in self._heads.items() if positions.get(key[0]) == key[1]}
        heads: dict[TopicPartition, float | None] = {}
        start: dict[TopicPartition, int] = {}
        for tp in partitions:
            head, scanned = self._heads.get((tp, positions[tp]), (None, positions[tp]))
            if head is not None:
                heads[tp] = head
            elif scanned < ends[tp]:
                start[tp] = scanned
        if start:
            heads |= self._scan(start, positions, ends)
        return heads

    def _scan(
        self,
        start: dict[TopicPartition, int],
        positions: Mapping[TopicPartition, int],
        ends: Mapping[TopicPartition, int],
    ) -> dict[TopicPartition, float | None]:
        consumer = self._consumer()
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        found: dict[TopicPartition, float | None] = {}
        open_ = set(start)
        deadline = time.monotonic() + self.head_timeout_s
        while open_ and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=200).items():
                for record in records if tp in open_ else ():
                    at = self._event_time(tp.topic, record.value) if record.offset < ends[tp] else None
                    self._heads[(tp, positions[tp])] = (at, record.offset + 1)
                    if at is not None:
                        found[tp] = at
                    if at is not None or record.offset + 1 >= ends[tp]:
                        open_.discard(tp)  # its head, or nothing valid before its end: it holds nothing
                        break
        consumer.assign([])
        return found | dict.fromkeys(open_)  # not read in time: it holds everything until a later look

    def _event_time(self, topic: str, value: bytes | None) -> float | None:
        """A raw record's event time, or None for a record the score stage will dead-letter (it is never counted)."""
        try:
            return decode_event(value, default_kind=self.kind_of_topic.get(topic)).published_at.timestamp()
        except EventError:
            return None

    async def snapshot(self) -> Backlog:
        async with self._lock:  # the clients are used from one thread at a time
            try:
                return await asyncio.to_thread(self._snapshot)
            except Exception:
                self.close()  # fresh connections next time
                raise

    async def pending(self) -> set[str]:
        """The partitions with uncommitted records."""
        return set((await self.snapshot()).pending)

    def close(self) -> None:
        for client in (self._admin, self._reader):
            if client is not None:
                client.close()
        self._admin = self._reader = None
