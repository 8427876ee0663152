"""The producer every writer of events uses (replay, HTTP ingest): kafka-python, key = event id, acks=all,
lz4 compression and batching tuned for throughput.

``send`` never blocks on the network; ``flush`` or the futures tell when the broker has the records.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata

from core.settings import Settings
from stream.deadletter import DeadLetter
from stream.events import RawEvent
from stream.topics import DEADLETTER_MAX_BYTES

__all__ = ["EventProducer", "delivered"]


def _settle(waiter: asyncio.Future[object], result: object, error: BaseException | None) -> None:
    if waiter.done():
        return
    if error is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(result)


async def delivered(futures: Iterable[FutureRecordMetadata]) -> None:
    """Wait, without blocking a thread, until Kafka acknowledged every record (raises the first failure).

    kafka-python completes its futures on its own I/O thread; each one is bridged into an asyncio future, so an
    async server can wait for thousands of acks at once instead of parking one thread per request.
    """
    loop = asyncio.get_running_loop()
    waiters = []
    for future in futures:
        waiter: asyncio.Future[object] = loop.create_future()

        def ok(metadata: object, waiter: asyncio.Future[object] = waiter) -> None:
            loop.call_soon_threadsafe(_settle, waiter, metadata, None)

        def failed(exc: BaseException, waiter: asyncio.Future[object] = waiter) -> None:
            loop.call_soon_threadsafe(_settle, waiter, None, exc)

        future.add_callback(ok)
        future.add_errback(failed)
        waiters.append(waiter)
    await asyncio.gather(*waiters)


class EventProducer:
    def __init__(self, settings: Settings, **overrides: Any) -> None:
        self.settings = settings
        options: dict[str, Any] = {
            **settings.kafka_python_config(),
            "acks": "all",
            "compression_type": "lz4",
            "linger_ms": 10,
            "batch_size": 256 * 1024,
            "max_request_size": DEADLETTER_MAX_BYTES,
            "retries": 10,
            "max_in_flight_requests_per_connection": 5,
            "enable_idempotence": True,
            # back within seconds of a broker restart (the default backs off to 30 s, and what it holds meanwhile
            # reaches minutes the closer may take for quiet)
            "reconnect_backoff_max_ms": 5000,
            **overrides,
        }
        self._producer = KafkaProducer(**options)

    def topic_for(self, kind: str) -> str:
        return self.settings.topics.raw_news if kind == "news" else self.settings.topics.raw_social

    def send_event(self, event: RawEvent | dict[str, Any], *, topic: str | None = None) -> FutureRecordMetadata:
        payload = event.to_json() if isinstance(event, RawEvent) else event
        target = topic or self.topic_for(str(payload.get("kind", "social")))
        return self.send_raw(target, json.dumps(payload, ensure_ascii=False).encode("utf-8"), key=str(payload["id"]))

    def send_raw(self, topic: str, value: bytes, *, key: str | bytes | None = None) -> FutureRecordMetadata:
        key_bytes = key.encode("utf-8") if isinstance(key, str) else key
        return self._producer.send(topic, value=value, key=key_bytes)

    def send_dead_letter(self, letter: DeadLetter) -> FutureRecordMetadata:
        return self.send_raw(self.settings.topics.deadletter, letter.to_bytes(), key=letter.key)

    def send_many(self, events: Iterable[RawEvent | dict[str, Any]]) -> list[FutureRecordMetadata]:
        return [self.send_event(event) for event in events]

    def has_topic(self, topic: str) -> bool:
        """Whether the brokers answer with ``topic``'s partitions (blocks at most the producer's max_block_ms)."""
        return bool(self._producer.partitions_for(topic))

    def flush(self, timeout_s: float | None = None) -> None:
        self._producer.flush(timeout=timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        self._producer.close(timeout=timeout_s)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
