"""The score stage without Kafka or Triton: prepare a batch, infer until Triton answers, publish until Kafka takes it.

Why a class with injected parts: the stage's promises (a batch is held, never skipped, while Triton or Kafka is
away; every bad record becomes a dead letter; a dead letter too large for its topic goes without its original
bytes rather than block the partition) are its logic, not the services'. With the model and the sink passed in
as protocols, ``tests/unit/test_score_stage.py`` checks them with small fakes; the Faust agent in
:mod:`stream.score_agent` only wires the real Triton client and Kafka producer in.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
from aiokafka.errors import MessageSizeTooLargeError

from core.errors import InferenceUnavailable, RadarError, StorageError
from core.events import RawEvent, dedupe_key
from core.language import model_lang
from core.retry import Backoff, RandomSource, retry_forever
from inference.resilience import CircuitBreaker
from inference.triton_client import ModelInfo
from stream.deadletter import DeadLetter
from stream.entity_gate import EntityGate, RefusalLog, apply_answers, asks_of, epoch_day
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
    counts_in_flight,
)
from stream.scoring import Incoming, Prepared, RecentIds, Tagger, encode, prepare_batch, scored_event, unhandled

__all__ = ["OutRecord", "RecordSink", "ScoreStage", "SentimentModel", "too_large"]

log = logging.getLogger("radar.score")
FALLBACK = "en"  # the model of every language without one of its own (core.language.model_lang)


@dataclass(frozen=True)
class OutRecord:
    """One record to produce: a scored event or a dead letter (``letter`` kept to shrink it if Kafka refuses)."""

    topic: str
    key: bytes | None
    value: bytes
    letter: DeadLetter | None = None
    headers: tuple[tuple[str, bytes], ...] | None = None

    @classmethod
    def dead(cls, topic: str, letter: DeadLetter) -> OutRecord:
        return cls(topic, letter.key.encode() if letter.key else None, letter.to_bytes(), letter)

    def shrunk(self, topic: str) -> OutRecord:
        """The dead letter without the original bytes (they stay at their source offset, which it names)."""
        if self.letter is None:
            raise ValueError("only a dead letter can be sent without its original")
        return OutRecord.dead(topic, self.letter.without_original("larger than the dead-letter topic accepts"))


class SentimentModel(Protocol):
    """What the stage needs of the Triton client (:class:`inference.triton_client.TritonSentimentClient`)."""

    @property
    def url(self) -> str: ...
    @property
    def model_name(self) -> str: ...
    @property
    def retries(self) -> int: ...
    @property
    def breaker(self) -> CircuitBreaker: ...
    async def init(self) -> ModelInfo: ...
    async def infer(self, texts: Sequence[str], targets: Sequence[str] | None = None) -> np.ndarray: ...


class RecordSink(Protocol):
    """Where records go: ``send`` returns once the broker acknowledged the record, and raises if it did not."""

    async def send(self, record: OutRecord) -> None: ...


class _SendFailed(RadarError):
    """Some records of a round were not acknowledged; only those are sent again. Never escapes the retry."""

    def __init__(self, failed: int, total: int, first: BaseException) -> None:
        super().__init__(f"{failed} of {total} records failed: {first}")
        self.failed, self.total, self.first = failed, total, first


def too_large(exc: BaseException) -> bool:
    """Kafka refused the record for its size (a permanent error, unlike a broker that is away)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MessageSizeTooLargeError) or "MessageSizeTooLarge" in repr(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass(frozen=True)
class _Row:
    """One input to a model: the whole text of event ``index`` (``entity`` None), or the text toward an entity;
    ``also_text``: the entity is the text's only one, and this row's sentiment is the text's too."""

    index: int
    entity: str | None
    target: str
    also_text: bool = False


class ScoreStage:
    """Raw messages in, scored events and dead letters out; holds its batch while Triton or Kafka is away.

    Each event goes to its language's model (``models``, keyed by :func:`core.language.model_lang`; English is the
    fallback and must be there). A model that reads (target, text) pairs gets one row for the text and one per
    entity, so "A sues B" carries a sentiment toward A and one toward B (a text naming one entity: one row, toward
    it, which is the text's sentiment too); a text-level model gets the text once and its entities take the text's
    sentiment.

    Call :meth:`start` once (it waits for the models), then per batch :meth:`score_batch` (returns once every
    record is acknowledged) and, when the batch's offsets may be committed, :meth:`acknowledge`.
    """

    def __init__(
        self,
        model: SentimentModel | Mapping[str, SentimentModel],
        sink: RecordSink,
        *,
        scored_topic: str,
        deadletter_topic: str,
        kind_of_topic: dict[str, str],
        tag: Tagger,
        policy: EventTimePolicy | None = None,
        seen: RecentIds | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: RandomSource | None = None,
        request_size: int = 64,
        gate: EntityGate | None = None,
        watched: Callable[[], Collection[str]] = frozenset,
    ) -> None:
        self.models: dict[str, SentimentModel] = dict(model) if isinstance(model, Mapping) else {FALLBACK: model}
        if FALLBACK not in self.models:
            raise ValueError(f"the models must include the fallback language {FALLBACK!r}: {sorted(self.models)}")
        self.model, self.sink = self.models[FALLBACK], sink
        self.request_size = request_size
        self.scored_topic, self.deadletter_topic = scored_topic, deadletter_topic
        self.kind_of_topic, self.tag, self.policy = kind_of_topic, tag, policy
        self.seen = seen if seen is not None else RecentIds()
        self.clock, self.sleep = clock, sleep
        jitter = rng if rng is not None else random.Random()
        self.start_backoff = Backoff(base_s=0.5, cap_s=5.0, rng=jitter)
        self.backoff = Backoff(base_s=0.2, cap_s=5.0, rng=jitter)  # inference and producing
        self.info: ModelInfo | None = None  # the fallback (English) model's
        # producer-named entities off the watchlist pass the gate's per-source quota (None: every one is admitted)
        self.gate, self.watched = gate, watched
        self.refusals = RefusalLog(gate.per_source if gate is not None else 0)
        self.infos: dict[str, ModelInfo] = {}

    async def start(self) -> ModelInfo:
        """Wait for every model; a contract mismatch (ModelContractError) propagates: the worker stops, loudly."""
        for lang, model in self.models.items():

            def waiting(attempt: int, exc: BaseException, model: SentimentModel = model) -> None:
                log.warning("waiting for Triton model %s: %s", model.model_name, exc)

            info = await retry_forever(
                model.init,
                backoff=self.start_backoff,
                is_retryable=lambda exc: isinstance(exc, InferenceUnavailable),
                on_retry=waiting,
                sleep=self.sleep,
            )
            self.infos[lang] = info
            log.info("scoring %s with %s at %s%s", lang, info.label, model.url, " (pairs)" if info.pairs else "")
        self.info = self.infos[FALLBACK]
        return self.info

    def lang_of(self, event: RawEvent) -> str:
        """Which of the stage's models scores ``event``: its language's, else the fallback."""
        lang = model_lang(event.lang or "")
        return lang if lang in self.models else FALLBACK

    @counts_in_flight
    async def score_batch(self, items: Sequence[Incoming]) -> Prepared:
        """Validate, dedupe and tag ``items``, score the valid ones, and publish scored events and dead letters."""
        if self.info is None:
            raise RuntimeError("ScoreStage.start() must return before batches are scored")
        for item in items:
            EVENTS_IN.labels(item.topic).inc()
        prepared = prepare_batch(
            items, kind_of_topic=self.kind_of_topic, tag=self.tag, seen=self.seen, policy=self.policy
        )
        DUPLICATES.labels("score").inc(prepared.duplicates)
        await self._gate_entities(prepared)
        records: list[OutRecord] = []
        if prepared.valid:
            BATCH_SIZE.observe(len(prepared.valid))
            plan = self._plan(prepared)
            answers = await asyncio.gather(*(self._infer_rows(prepared, lang, rows) for lang, rows in plan.items()))
            records = self._scored(prepared, plan, dict(zip(plan, answers, strict=True)))
        records.extend(OutRecord.dead(self.deadletter_topic, letter) for letter in prepared.dead)
        await self.publish(records)
        return prepared

    def acknowledge(self, prepared: Prepared) -> None:
        """The batch is committed: remember its ids (dedupe) and count it."""
        for event, _, _ in prepared.valid:
            self.seen.add(dedupe_key(event.source, event.id))
        EVENTS_SCORED.inc(len(prepared.valid))
        DEAD_LETTERS.labels("validate").inc(len(prepared.dead))

    async def _gate_entities(self, prepared: Prepared) -> None:
        """Drop the producer-named entities off the watchlist that their source's quota refuses; the batch waits
        while the quota's store is away (admitting them all would let a flood through, refusing them would lose
        counts that are within the quota)."""
        if self.gate is None:
            return
        asks = asks_of(prepared, self.watched())
        if not asks:
            return
        gate, day = self.gate, epoch_day(self.clock())

        async def admit() -> list[set[str]]:
            return await gate.admit([(source, off) for _, source, off in asks], day=day)

        def waiting(attempt: int, exc: BaseException) -> None:
            if attempt % 10 == 0:
                log.warning("the entity quota is unavailable, holding %d events back: %s", len(prepared.valid), exc)

        answers = await retry_forever(
            admit,
            backoff=self.backoff,
            is_retryable=lambda exc: isinstance(exc, StorageError),
            on_retry=waiting,
            sleep=self.sleep,
        )
        self.refusals.report(apply_answers(prepared, asks, answers))

    def _plan(self, prepared: Prepared) -> dict[str, list[_Row]]:
        """The rows each model reads: every text once, plus each of its entities where the model reads pairs.

        A text that names one entity is read once, toward it, and that row is the text's sentiment as well: what a
        text says is about its only entity (zh-fin-neg: a text negative at all is negative about one of its
        entities, so with one entity the two agree), the row crops the text around the mention rather than from
        its start, and the usual one-entity event costs one row instead of two."""
        plan: dict[str, list[_Row]] = {}
        for index, (event, mentions, _) in enumerate(prepared.valid):
            lang = self.lang_of(event)
            rows = plan.setdefault(lang, [])
            if not self.infos[lang].pairs:
                rows.append(_Row(index, None, ""))
            elif len(mentions) == 1:
                ((entity, mention),) = mentions.items()
                rows.append(_Row(index, entity, mention, also_text=True))
            else:
                rows.append(_Row(index, None, ""))
                rows.extend(_Row(index, entity, mention) for entity, mention in mentions.items())
        return plan

    async def _infer_rows(self, prepared: Prepared, lang: str, rows: list[_Row]) -> np.ndarray:
        texts = [prepared.valid[row.index][0].text for row in rows]
        targets = [row.target for row in rows] if self.infos[lang].pairs else None
        return await self.infer(texts, targets, lang=lang)

    def _scored(
        self, prepared: Prepared, plan: Mapping[str, list[_Row]], answers: Mapping[str, np.ndarray]
    ) -> list[OutRecord]:
        """The scored records; an event that fails to become one joins ``prepared.dead`` (its problem, not the
        batch's)."""
        now = self.clock()
        text_probs: dict[int, list[float]] = {}
        toward: dict[int, dict[str, list[float]]] = {}
        for lang, probs in answers.items():
            for row, p in zip(plan[lang], probs, strict=True):
                if row.entity is None or row.also_text:
                    text_probs[row.index] = p.tolist()
                if row.entity is not None:
                    toward.setdefault(row.index, {})[row.entity] = p.tolist()
        records = []
        for index, (event, entities, source) in enumerate(prepared.valid):
            model = self.infos[self.lang_of(event)].label
            try:
                scored = scored_event(
                    event, entities, text_probs[index], model=model, now=now, toward=toward.get(index)
                )
                value = encode(scored)
            except Exception as exc:  # noqa: BLE001 - this record's problem, not the batch's
                prepared.dead.append(unhandled(source, exc))
                continue
            records.append(OutRecord(self.scored_topic, event.id.encode(), value))
        return records

    async def infer(self, texts: list[str], targets: list[str] | None = None, *, lang: str = FALLBACK) -> np.ndarray:
        """PROBS for ``texts`` (toward ``targets``, where given) from ``lang``'s model, waiting as long as Triton
        is unavailable (and at least until its breaker's trial).

        The texts go as requests of at most ``request_size``, all at once (Triton batches them together), so one
        batch keeps several model instances busy while its offsets are still acked in order."""
        failures = 0
        model = self.models[lang]
        size = self.request_size
        chunks = [(texts[i : i + size], targets[i : i + size] if targets else None) for i in range(0, len(texts), size)]

        async def attempt() -> np.ndarray:
            retries_before, started = model.retries, time.monotonic()
            try:
                parts = await asyncio.gather(
                    *(model.infer(chunk) if aims is None else model.infer(chunk, aims) for chunk, aims in chunks)
                )
                probs = np.concatenate(parts) if len(parts) > 1 else parts[0]
            finally:
                INFERENCE_RETRIES.inc(model.retries - retries_before)
            INFERENCE_LATENCY.observe(time.monotonic() - started)
            return probs

        def waiting(attempt: int, exc: BaseException) -> None:
            nonlocal failures
            failures = attempt + 1
            TRITON_WAITING.set(1)
            if attempt % 10 == 0:
                log.warning("Triton unavailable, holding %d events back (attempt %d): %s", len(texts), attempt + 1, exc)

        probs = await retry_forever(
            attempt,
            backoff=self.backoff,
            is_retryable=lambda exc: isinstance(exc, InferenceUnavailable),
            on_retry=waiting,
            min_wait=lambda: model.breaker.seconds_until_trial(time.monotonic()),
            sleep=self.sleep,
        )
        if failures:
            log.info("Triton is back after %d attempts", failures)
        TRITON_WAITING.set(0)
        return probs

    async def publish(self, records: list[OutRecord]) -> None:
        """Send and await every record; resend only the ones that failed (no duplicates of the others)."""
        pending = records

        async def round_() -> None:
            nonlocal pending
            results = await asyncio.gather(*(self.sink.send(r) for r in pending), return_exceptions=True)
            failed = []
            for record, result in zip(pending, results, strict=True):
                if isinstance(result, asyncio.CancelledError):
                    raise result
                if isinstance(result, BaseException):
                    if record.letter is not None and too_large(result):
                        record = record.shrunk(self.deadletter_topic)
                    failed.append(record)
            if failed:
                first = next(r for r in results if isinstance(r, BaseException))
                total, pending = len(pending), failed
                raise _SendFailed(len(failed), total, first)

        def waiting(attempt: int, exc: BaseException) -> None:
            if isinstance(exc, _SendFailed):
                log.warning(
                    "producing %d of %d records failed (attempt %d): %s", exc.failed, exc.total, attempt + 1, exc.first
                )

        await retry_forever(
            round_,
            backoff=self.backoff,
            is_retryable=lambda exc: isinstance(exc, _SendFailed),
            on_retry=waiting,
            sleep=self.sleep,
        )
