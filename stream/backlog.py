"""Which partitions still hold records the consumer group has not committed.

The minute closer needs to tell a partition that is quiet (nothing to read, so it cannot hold anything earlier)
from one that is stuck (Triton away, a worker killed before its partitions were reassigned): only the first may
be left out of the low watermark. Kafka itself knows: the end offset against the group's committed offset.
Committed offsets trail processing by the commit interval, so the answer errs on the side of waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError

from core.settings import Settings

__all__ = ["SOURCE_HEADER", "KafkaBacklog", "partition_name"]

# Set by the score agent on every scored record: the raw partition it was read from, so the aggregate stage can
# keep a watermark per source partition although the scored topic mixes them.
SOURCE_HEADER = "radar-source"


def partition_name(topic: str, partition: int) -> str:
    """How a partition is named in watermarks and backlogs.

    >>> partition_name("radar.raw.news", 3)
    'radar.raw.news:3'
    """
    return f"{topic}:{partition}"


class KafkaBacklog:
    """``await backlog.pending()``: the names of the partitions (of ``topics``) with uncommitted records."""

    def __init__(self, settings: Settings, topics: Sequence[str], *, group: str | None = None) -> None:
        self.settings, self.topics = settings, list(topics)
        self.group = group or settings.consumer_group
        self._admin: KafkaAdminClient | None = None
        self._partitions: list[TopicPartition] = []
        self._lock = asyncio.Lock()

    def _client(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = KafkaAdminClient(**self.settings.kafka_python_config(), request_timeout_ms=5000)
        return self._admin

    def _pending(self, retry_for_s: float = 15.0) -> set[str]:
        """Retriable errors (a fresh broker creating its offsets topic, a coordinator moving) are retried here."""
        deadline = time.monotonic() + retry_for_s
        while True:
            try:
                return self._pending_once()
            except KafkaError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _pending_once(self) -> set[str]:
        admin = self._client()
        if not self._partitions:  # topics do not shrink; new partitions are picked up after a restart
            described = admin.describe_topics(self.topics)
            self._partitions = [
                TopicPartition(t["name"], p["partition_index"]) for t in described for p in t["partitions"]
            ]
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in self._partitions})
        committed = admin.list_group_offsets({self.group: self._partitions}).get(self.group, {})
        uncommitted = [tp for tp in self._partitions if committed.get(tp) is None or committed[tp].offset < 0]
        starts = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in uncommitted}) if uncommitted else {}
        pending = set()
        for tp in self._partitions:
            done = committed.get(tp)
            position = done.offset if done is not None and done.offset >= 0 else starts[tp].offset
            if ends[tp].offset > position:
                pending.add(partition_name(tp.topic, tp.partition))
        return pending

    async def pending(self) -> set[str]:
        async with self._lock:  # the admin client is used from one thread at a time
            try:
                return await asyncio.to_thread(self._pending)
            except Exception:
                self.close()  # a fresh connection next time
                raise

    def close(self) -> None:
        if self._admin is not None:
            admin, self._admin = self._admin, None
            admin.close()
