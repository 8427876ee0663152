"""The score agent: raw topics -> validate, dedupe, tag -> micro-batch to Triton -> ``radar.scored``.

At-least-once: a batch's offsets are acked (and so committed) only after its scored events and dead letters
are acknowledged by Kafka. While Triton is unavailable the agent keeps retrying the same batch and pulls
nothing new (backpressure); no event is skipped. If the worker is stopped mid-batch, the batch is held back
(its offsets stay uncommitted) and is redelivered after the restart.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
import numpy as np
from aiokafka.errors import MessageSizeTooLargeError

from core.errors import InferenceUnavailable
from core.settings import Settings
from inference.resilience import Backoff
from inference.triton_client import TritonSentimentClient
from stream.backlog import SOURCE_HEADER, partition_name
from stream.deadletter import DeadLetter
from stream.entities import EntityMatcher, load_watchlist
from stream.events import EventTimePolicy
from stream.metrics import (
    BATCH_SIZE,
    DEAD_LETTERS,
    DUPLICATES,
    EVENTS_IN,
    EVENTS_SCORED,
    INFERENCE_LATENCY,
    INFERENCE_RETRIES,
    TRITON_WAITING,
)
from stream.scoring import Incoming, RecentIds, encode, prepare_batch, scored_event, unhandled

__all__ = ["hold_back", "infer_until_available", "register_score_agent"]

log = logging.getLogger("radar.score")


@dataclass(frozen=True)
class OutRecord:
    topic: str
    key: bytes | None
    value: bytes
    letter: DeadLetter | None = None
    headers: tuple[tuple[str, bytes], ...] | None = None

    @classmethod
    def dead(cls, topic: str, letter: DeadLetter) -> OutRecord:
        return cls(topic, letter.key.encode() if letter.key else None, letter.to_bytes(), letter)

    def shrunk(self, topic: str) -> OutRecord:
        assert self.letter is not None
        return OutRecord.dead(topic, self.letter.without_original("larger than the dead-letter topic accepts"))


def _too_large(exc: BaseException) -> bool:
    """Kafka refused the record for its size (a permanent error, unlike a broker that is away)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MessageSizeTooLargeError) or "MessageSizeTooLarge" in repr(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def hold_back(events: Sequence[Any]) -> None:
    """Keep these events' offsets out of the commit.

    Faust's ``take_events`` acks a batch in a ``finally``, also when the body was cancelled. Marking the
    messages as acked without telling the consumer leaves a gap at their offsets; Faust commits only up to the
    first gap, so the events are delivered again after a restart instead of being lost.
    """
    for event in events:
        event.message.acked = True


async def infer_until_available(client: TritonSentimentClient, texts: list[str]) -> np.ndarray:
    backoff = Backoff(base_s=0.2, cap_s=5.0)
    attempt = 0
    while True:
        retries_before = client.retries
        started = time.monotonic()
        try:
            probs = await client.infer(texts)
        except InferenceUnavailable as exc:
            TRITON_WAITING.set(1)
            if attempt % 10 == 0:
                log.warning("Triton unavailable, holding %d events back (attempt %d): %s", len(texts), attempt + 1, exc)
            wait = max(client.breaker.seconds_until_trial(time.monotonic()), backoff.delay(attempt))
            attempt += 1
            await asyncio.sleep(wait)
            continue
        finally:
            INFERENCE_RETRIES.inc(client.retries - retries_before)
        INFERENCE_LATENCY.observe(time.monotonic() - started)
        if attempt:
            log.info("Triton is back after %d attempts", attempt)
        TRITON_WAITING.set(0)
        return probs


def register_score_agent(app: faust.App, settings: Settings) -> Any:
    raw = app.topic(*settings.topics.raw(), value_serializer="raw", key_serializer="raw")
    kind_of_topic = {settings.topics.raw_news: "news", settings.topics.raw_social: "social"}
    matcher = EntityMatcher(load_watchlist(settings.watchlist))
    policy = EventTimePolicy(max_future_s=settings.event_max_future_s, max_age_s=settings.event_max_age_s)
    seen = RecentIds()
    window_s = settings.batch_window_ms / 1000

    async def send_one(record: OutRecord) -> None:
        future = await app.producer.send(
            record.topic, record.key, record.value, None, None, list(record.headers) if record.headers else None
        )
        await future

    async def produce(records: list[OutRecord]) -> None:
        """Send and await every record; retry only the ones that failed (no duplicates of the others)."""
        backoff = Backoff(base_s=0.2, cap_s=5.0)
        pending = records
        for attempt in itertools.count():
            results = await asyncio.gather(*(send_one(r) for r in pending), return_exceptions=True)
            failed = []
            for record, result in zip(pending, results, strict=True):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                if isinstance(result, BaseException):
                    if record.letter is not None and _too_large(result):
                        record = record.shrunk(settings.topics.deadletter)
                    failed.append(record)
            if not failed:
                return
            first_error = next(r for r in results if isinstance(r, BaseException))
            log.warning(
                "producing %d of %d records failed (attempt %d): %s",
                len(failed),
                len(pending),
                attempt + 1,
                first_error,
            )
            pending = failed
            await asyncio.sleep(backoff.delay(attempt))

    @app.agent(raw, name="score", concurrency=settings.score_concurrency)
    async def score(stream: faust.StreamT) -> None:
        client = TritonSentimentClient(
            settings.triton_grpc_url, settings.model_name, timeout_s=settings.inference_timeout_s
        )
        backoff = Backoff(base_s=0.5, cap_s=5.0)
        for attempt in itertools.count():
            try:
                info = await client.init()  # a contract mismatch raises ModelContractError: the worker stops, loudly
                break
            except InferenceUnavailable as exc:
                log.warning("waiting for Triton model %s: %s", settings.model_name, exc)
                await asyncio.sleep(backoff.delay(attempt))
        log.info("scoring with %s at %s", info.label, settings.triton_grpc_url)
        async for events in stream.take_events(settings.max_batch_size, within=window_s):  # type: ignore[attr-defined]  # on Stream, not StreamT
            try:
                items = [
                    Incoming(e.value, e.key, e.message.topic, e.message.partition, e.message.offset) for e in events
                ]
                for item in items:
                    EVENTS_IN.labels(item.topic).inc()
                prepared = prepare_batch(items, kind_of_topic=kind_of_topic, tag=matcher.tag, seen=seen, policy=policy)
                DUPLICATES.labels("score").inc(prepared.duplicates)
                records: list[OutRecord] = []
                if prepared.valid:
                    BATCH_SIZE.observe(len(prepared.valid))
                    probs = await infer_until_available(client, [event.text for event, _, _ in prepared.valid])
                    now = datetime.now(UTC)
                    for (event, entities, source), p in zip(prepared.valid, probs, strict=True):
                        headers = ((SOURCE_HEADER, partition_name(source.topic, source.partition).encode()),)
                        try:
                            value = encode(scored_event(event, entities, p.tolist(), model=info.label, now=now))
                        except Exception as exc:  # noqa: BLE001 - this record's problem, not the batch's
                            prepared.dead.append(unhandled(source, exc))
                            continue
                        records.append(OutRecord(settings.topics.scored, event.id.encode(), value, headers=headers))
                records.extend(OutRecord.dead(settings.topics.deadletter, letter) for letter in prepared.dead)
                await produce(records)
            except BaseException:
                hold_back(events)
                raise
            for event, _, _ in prepared.valid:
                seen.add(event.id)
            EVENTS_SCORED.inc(len(prepared.valid))
            DEAD_LETTERS.labels("validate").inc(len(prepared.dead))

    return score
