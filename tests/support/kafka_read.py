"""Reading topics back in tests: everything on a topic until it has ``expected`` records or time is up."""

from __future__ import annotations

import time
import uuid

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord

from core.settings import Settings


def read_topic(settings: Settings, topic: str, *, expected: int, timeout_s: float = 60.0) -> list[ConsumerRecord]:
    consumer = KafkaConsumer(
        topic,
        **settings.kafka_python_config(),
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(consumer)
    finally:
        consumer.close()
    return records
