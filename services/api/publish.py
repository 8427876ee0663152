"""Handing a request's records to Kafka without ever blocking the API's event loop, within a bounded time.

kafka-python blocks the calling thread: building a producer bootstraps (30 s by default against a closed port),
and ``send`` waits up to ``max_block_ms`` (60 s by default) for metadata or buffer space. Run on the event loop,
one ingest with Kafka away froze every request, readers included, and then answered 500. Here the producer is
built and fed in a small thread pool of its own, every wait is bounded by ``RADAR_INGEST_KAFKA_TIMEOUT_S``, and a
failure becomes :class:`KafkaUnavailable` (HTTP 503 with ``Retry-After``). For that long after a failure, requests
are answered 503 at once instead of each waiting the timeout out again. Before the first producer is built, one
plain TCP connect checks that a bootstrap server listens at all: a closed port is a 503 at once, and kafka-python
(3.0), which leaves a socket open for every refused connect, never gets to retry against it.

A 503 can follow a partial success (some records of the body acknowledged, some not): sending the whole body
again is safe, the pipeline counts each event id once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.errors import KafkaConnectionError, KafkaError
from kafka.producer.future import FutureRecordMetadata

from core.errors import BrokerUnavailable
from core.settings import Settings
from stream.producer import EventProducer, delivered
from stream.topics import closed_on_failure

__all__ = ["KafkaUnavailable", "Outgoing", "Publisher"]

log = logging.getLogger(__name__)


class KafkaUnavailable(BrokerUnavailable):
    """Kafka did not take the records in time; the client should retry after ``retry_after_s`` seconds."""

    def __init__(self, why: str, retry_after_s: int) -> None:
        self.why, self.retry_after_s = why, retry_after_s
        super().__init__(why)


@dataclass(frozen=True)
class Outgoing:
    """One Kafka record to produce: an accepted event or a dead letter."""

    topic: str
    value: bytes
    key: str | None


class Publisher:
    """The API's producer: made on first use (the read API works while Kafka is away), fed off the event loop."""

    def __init__(self, settings: Settings, producer: EventProducer | None = None) -> None:
        self.settings = settings
        self.timeout_s = settings.ingest_kafka_timeout_s
        self._producer, self._owned = producer, producer is None
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="radar-ingest-kafka")

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.timeout_s))

    def topic_for(self, kind: str) -> str:
        return self.settings.topics.raw_news if kind == "news" else self.settings.topics.raw_social

    async def publish(self, records: list[Outgoing]) -> None:
        """Return once Kafka acknowledged every record (acks=all), or raise :class:`KafkaUnavailable`."""
        if not records:
            return
        if time.monotonic() < self._down_until:
            raise KafkaUnavailable("Kafka was unreachable moments ago", self.retry_after_s)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        try:
            futures = await asyncio.wait_for(loop.run_in_executor(self._pool, self._send, records), self.timeout_s)
            await asyncio.wait_for(delivered(futures), max(deadline - loop.time(), 1.0))
        except (KafkaError, TimeoutError) as exc:
            self._down_until = time.monotonic() + self.retry_after_s
            why = f"Kafka did not take the records within {self.timeout_s:g} s ({type(exc).__name__})"
            log.warning("ingest: %s", why)
            raise KafkaUnavailable(why, self.retry_after_s) from None

    async def problem(self) -> str | None:
        """None when Kafka answers with the raw news topic's partitions within the ingest timeout; else why not."""
        loop = asyncio.get_running_loop()
        topic = self.settings.topics.raw_news
        try:
            found = await asyncio.wait_for(
                loop.run_in_executor(self._pool, lambda: self._connect().has_topic(topic)), self.timeout_s
            )
        except (KafkaError, TimeoutError, OSError) as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}".rstrip(": ")
        return None if found else f"topic {topic} does not exist"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            if self._owned and self._producer is not None:
                self._producer.close()

    def _connect(self) -> EventProducer:
        with self._lock:
            if self._producer is None:
                _listening(self.settings.kafka_bootstrap_servers, self.timeout_s)
                self._producer = _bounded_producer(self.settings, int(self.timeout_s * 1000))
            return self._producer

    def _send(self, records: list[Outgoing]) -> list[FutureRecordMetadata]:
        producer = self._connect()
        return [producer.send_raw(r.topic, r.value, key=r.key) for r in records]


def _listening(bootstrap_servers: str, timeout_s: float) -> None:
    """Raise KafkaConnectionError unless one bootstrap server accepts a TCP connection within ``timeout_s``."""
    servers = [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
    for server in servers:
        host, _, port = server.rpartition(":") if server.rpartition(":")[2].isdigit() else (server, "", "9092")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s / len(servers)):
                return
        except (OSError, ValueError):
            continue
    raise KafkaConnectionError(f"no bootstrap server accepts connections ({bootstrap_servers})")


def _bounded_producer(settings: Settings, wait_ms: int) -> EventProducer:
    """An EventProducer whose bootstrap and sends block at most ``wait_ms``; on failure its sockets are closed
    (kafka-python leaves the client of a producer whose bootstrap failed open)."""
    make_client = KafkaProducer.DEFAULT_CONFIG["kafka_client"]
    return closed_on_failure(
        lambda **configs: EventProducer(settings, **configs),
        make_client,
        bootstrap_timeout_ms=wait_ms,
        max_block_ms=wait_ms,
    )
