"""Reading a topic back whole, for checks after a run: every record up to the end offsets the call finds.

A consumer that stops after a quiet spell (``consumer_timeout_ms``) spends that spell on every read, and a group
join before it; assigned partitions read up to known end offsets take neither.
"""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition

from core.settings import Settings

__all__ = ["read_to_end"]


def read_to_end(settings: Settings, topic: str, timeout_s: float = 60.0) -> list[bytes]:
    """The values of every record on ``topic`` up to its end offsets as of the call, partition by partition."""
    consumer = KafkaConsumer(**settings.kafka_python_config(), group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise LookupError(f"topic {topic} has no partitions (does it exist?)")
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {len(values)} records read in {timeout_s:.0f} s, not yet at the end")
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)])
        return values
    finally:
        consumer.close()
