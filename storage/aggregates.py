"""The Redis aggregate store: the only code that talks to Redis about buckets, detector state and closing.

Writes go through one Lua script (``add_event.lua``, its arguments named in :mod:`storage.add_event`) per event,
pipelined per batch, so a redelivered event never counts twice and a bucket is never half-updated. Reads of 5 min,
1 h and 24 h windows combine hour buckets for whole hours with minute buckets for the edges.

:class:`AggregateStore` is the Redis implementation of :class:`storage.minute_store.MinuteStore`, what the minute
closer needs; :class:`storage.memory_aggregates.MemoryAggregateStore` is the in-memory one its unit tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from core.alerts import Evidence
from core.domain import VOICE_WINDOW_MINUTES, MinuteStats
from storage.add_event import AddEventArgs, AddEventKeys, script_source
from storage.minute_store import CloseLease
from storage.redis_keys import ALL_ENTITIES, Keys

log = logging.getLogger("radar.aggregates")

__all__ = ["AddResult", "AggregateStore", "ScoredItem", "evidence_of", "snippet_of", "stats_from_hash"]

KINDS = ("news", "social")
_RELEASE_LOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_RENEW_LOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0"
DAY = 86_400
VOICE_TTL_S = 2 * 3600  # a minute's voices are read over the next quarter of an hour; a closer may lag a while


@dataclass(frozen=True)
class ScoredItem:
    """What the aggregate stage needs of a scored event."""

    id: str
    kind: str
    entities: tuple[str, ...]
    label: str
    score: float
    published_at: datetime
    snippet: str
    source: str | None = None  # the event's source, shown with the evidence
    toward: tuple[tuple[str, str, float], ...] = ()  # (entity, label, score) where the model read the pair
    author: str | None = None

    @property
    def voice(self) -> str:
        """Who spoke: the author, or the source where the event names none (a wire without bylines is one voice).

        >>> from datetime import UTC
        >>> wire = ScoredItem("e", "news", (), "neutral", 0.0, datetime.now(UTC), "t", source="wire")
        >>> wire.voice, dataclasses.replace(wire, author="ann").voice
        ('wire', 'ann')
        """
        return self.author or self.source or ""

    def targets(self) -> list[tuple[str, str, float]]:
        """(entity, label, score) for every bucket set the event counts in: all entities together with the text's
        sentiment, then each entity with the sentiment toward it (the text's where the model gave none).

        >>> from datetime import UTC
        >>> item = ScoredItem("e", "news", ("A", "B"), "neutral", 0.0, datetime.now(UTC), "A sues B",
        ...                   toward=(("B", "negative", -0.9),))
        >>> item.targets()
        [('_all', 'neutral', 0.0), ('A', 'neutral', 0.0), ('B', 'negative', -0.9)]
        """
        own = {entity: (label, score) for entity, label, score in self.toward}
        text = (self.label, self.score)
        return [(ALL_ENTITIES, *text), *((e, *own.get(e, text)) for e in self.entities)]

    @classmethod
    def from_scored(cls, record: dict[str, Any]) -> ScoredItem:
        source = record.get("source")
        toward = record.get("entity_sentiments") or {}
        return cls(
            id=str(record["id"]),
            kind=str(record["kind"]),
            entities=tuple(record.get("entities") or ()),
            label=str(record["sentiment"]["label"]),
            score=float(record["sentiment"]["score"]),
            published_at=datetime.fromisoformat(str(record["published_at"]).replace("Z", "+00:00")),
            snippet=str(record.get("text", ""))[:200],
            source=str(source) if source is not None else None,
            toward=tuple((str(e), str(s["label"]), float(s["score"])) for e, s in toward.items()),
            author=str(record["author"]) if record.get("author") is not None else None,
        )


def snippet_of(item: ScoredItem, score: float | None = None, label: str | None = None) -> str:
    """The evidence entry kept for an event (JSON): id, the start of its text, its score (toward the entity whose
    evidence it is, where given) and source.

    >>> from datetime import UTC
    >>> snippet_of(ScoredItem("e1", "news", (), "negative", -0.81234, datetime.now(UTC), "bad", source="wire"))
    '{"id": "e1", "text": "bad", "score": -0.8123, "source": "wire", "kind": "news", "label": "negative"}'
    """
    value = item.score if score is None else score
    return json.dumps(
        {
            "id": item.id,
            "text": item.snippet,
            "score": round(value, 4),
            "source": item.source,
            "kind": item.kind,
            "label": label or item.label,
        },
        ensure_ascii=False,
    )


def evidence_of(snippets: Sequence[bytes | str], limit: int | None) -> list[Evidence]:
    """The ``limit`` most negative of the kept snippets; those kept before the source was (no "source") read too.

    >>> [e.source for e in evidence_of(['{"id": "a", "text": "t", "score": -0.5}', '{"id": "b", "text": "u", '
    ...  '"score": -0.9, "source": "wire"}'], limit=5)]
    ['wire', None]
    """
    items = [Evidence.model_validate_json(raw) for raw in snippets]
    return sorted(items, key=lambda item: item.score)[:limit]


@dataclass
class AddResult:
    counted: int = 0
    duplicates: int = 0
    late: list[int] = field(default_factory=list)  # positions of the items whose minute was already closed
    refused: list[int] = field(default_factory=list)  # positions of the items the script refused, unwritten

    @classmethod
    def of_codes(cls, codes: Iterable[int]) -> AddResult:
        """Tally add_event.lua's answers, one per item in order: 0 duplicate, 2 late, 3 refused (a score or label
        out of range: nothing written), anything else counted.

        >>> AddResult.of_codes([1, 0, 2, 1, 3])
        AddResult(counted=2, duplicates=1, late=[2], refused=[4])
        """
        result = cls()
        for position, code in enumerate(codes):
            if code == 3:
                result.refused.append(position)
            elif code == 0:
                result.duplicates += 1
            elif code == 2:
                result.late.append(position)
            else:
                result.counted += 1
        return result


def stats_from_hash(raw: dict[bytes, bytes] | dict[str, str]) -> MinuteStats:
    """A bucket hash as MinuteStats (an absent bucket is all zeros).

    >>> stats_from_hash({b"n": b"3", b"negative": b"2", b"positive": b"1", b"total": b"-0.9", b"total_sq": b"1.1"})
    MinuteStats(n=3, negative=2, neutral=0, positive=1, total=-0.9, total_sq=1.1, voices=0)
    """
    values = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
    return MinuteStats(
        n=int(values.get("n", 0)),
        negative=int(values.get("negative", 0)),
        neutral=int(values.get("neutral", 0)),
        positive=int(values.get("positive", 0)),
        total=float(values.get("total", 0.0)),
        total_sq=float(values.get("total_sq", 0.0)),
    )


class AggregateStore:
    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "radar:", dedupe_ttl_s: int = 2 * DAY, meta_ttl_s: int = 8 * DAY
    ) -> None:
        self.client = client
        self.keys = Keys(prefix)
        self.dedupe_ttl_s = dedupe_ttl_s
        self.minute_ttl_s = 2 * DAY
        self.hour_ttl_s = 8 * DAY
        self.voice_ttl_s = VOICE_TTL_S
        self.meta_ttl_s = meta_ttl_s
        self._add = client.register_script(script_source())

    # --- writes ---
    async def add_batch(self, items: Sequence[ScoredItem]) -> AddResult:
        pipe = self.client.pipeline(transaction=False)
        for item in items:
            await self._add(keys=self._keys_of(item).argv(), args=self._args_of(item).argv(), client=pipe)
        return AddResult.of_codes(await pipe.execute())

    def _keys_of(self, item: ScoredItem) -> AddEventKeys:
        k = self.keys
        return AddEventKeys(
            seen_key=k.seen(item.source, item.id),
            entities_key=k.entities,
            watermark_key=k.watermark,
            first_minute_key=k.first_minute,
            closed_through_key=k.closed_through,
        )

    def _args_of(self, item: ScoredItem) -> AddEventArgs:
        ts = item.published_at.timestamp()
        return AddEventArgs(
            prefix=self.keys.prefix,
            kind=item.kind,
            minute=int(ts // 60),
            hour=int(ts // 3600),
            event_time=ts,
            ttl_seen=self.dedupe_ttl_s,
            ttl_minute=self.minute_ttl_s,
            ttl_hour=self.hour_ttl_s,
            ttl_meta=self.meta_ttl_s,
            ttl_voice=self.voice_ttl_s,
            voice=item.voice,
            entities=tuple((e, label, score, snippet_of(item, score, label)) for e, label, score in item.targets()),
        )

    # --- reads ---
    async def minute_stats(self, entities: Sequence[str], minute: int) -> dict[str, MinuteStats]:
        """Each entity's stats for one minute, news and social together, with the distinct voices of the
        :data:`~core.domain.VOICE_WINDOW_MINUTES` minutes to its end (PFCOUNT merges their HyperLogLogs)."""
        pipe = self.client.pipeline(transaction=False)
        window = range(minute - VOICE_WINDOW_MINUTES + 1, minute + 1)
        for entity in entities:
            for kind in KINDS:
                pipe.hgetall(self.keys.minute(entity, kind, minute))
            pipe.pfcount(*(self.keys.voices(entity, m) for m in window))
        raw = await pipe.execute()
        return {
            entity: dataclasses.replace(
                stats_from_hash(raw[3 * i]) + stats_from_hash(raw[3 * i + 1]), voices=int(raw[3 * i + 2])
            )
            for i, entity in enumerate(entities)
        }

    async def series(
        self, entity: str, first_minute: int, last_minute: int, kind: str | None = None
    ) -> list[MinuteStats]:
        """Per-minute stats from ``first_minute`` to ``last_minute`` inclusive (for dashboards and tests)."""
        kinds = (kind,) if kind else KINDS
        pipe = self.client.pipeline(transaction=False)
        for minute in range(first_minute, last_minute + 1):
            for k in kinds:
                pipe.hgetall(self.keys.minute(entity, k, minute))
        raw = await pipe.execute()
        out = []
        for i in range(last_minute - first_minute + 1):
            total = MinuteStats()
            for j in range(len(kinds)):
                total = total + stats_from_hash(raw[i * len(kinds) + j])
            out.append(total)
        return out

    async def window(self, entity: str, *, end_minute: int, minutes: int) -> MinuteStats:
        """Totals of the ``minutes`` up to ``end_minute`` (inclusive): whole hours from hour buckets."""
        start = end_minute - minutes + 1
        first_full_hour = math.ceil(start / 60)
        last_full_hour = (end_minute + 1) // 60 - 1
        pipe = self.client.pipeline(transaction=False)
        if last_full_hour >= first_full_hour:
            edges = [*range(start, first_full_hour * 60), *range((last_full_hour + 1) * 60, end_minute + 1)]
            for hour in range(first_full_hour, last_full_hour + 1):
                for kind in KINDS:
                    pipe.hgetall(self.keys.hour(entity, kind, hour))
        else:
            edges = list(range(start, end_minute + 1))
        for minute in edges:
            for kind in KINDS:
                pipe.hgetall(self.keys.minute(entity, kind, minute))
        total = MinuteStats()
        for raw in await pipe.execute():
            total = total + stats_from_hash(raw)
        return total

    async def evidence(self, entity: str, first_minute: int, last_minute: int, limit: int | None = 5) -> list[Evidence]:
        """The most negative recent events of the window (every one kept, with ``limit`` None): what an analyst
        reads first in an alert, and what its explanation reads."""
        pipe = self.client.pipeline(transaction=False)
        for minute in range(first_minute, last_minute + 1):
            pipe.lrange(self.keys.evidence(entity, minute), 0, -1)
        return evidence_of([x for chunk in await pipe.execute() for x in chunk], limit)

    async def active_entities(self, since_minute: int) -> list[str]:
        members = await self.client.zrangebyscore(self.keys.entities, since_minute, "+inf")
        names = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        return sorted(name for name in names if name != ALL_ENTITIES)

    async def watermark(self) -> float | None:
        value = await self.client.get(self.keys.watermark)
        return float(value) if value is not None else None

    async def first_minute(self) -> int | None:
        value = await self.client.get(self.keys.first_minute)
        return int(value) if value is not None else None

    async def closed_through(self) -> int | None:
        value = await self.client.get(self.keys.closed_through)
        return int(value) if value is not None else None

    async def set_closed_through(self, minute: int) -> None:
        await self.client.set(self.keys.closed_through, minute, ex=self.meta_ttl_s)

    async def load_detectors(self, entities: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        values = await self.client.mget([self.keys.detectors(e) for e in entities]) if entities else []
        return {e: (json.loads(v) if v else None) for e, v in zip(entities, values, strict=True)}

    async def save_detectors(self, states: dict[str, dict[str, Any]]) -> None:
        pipe = self.client.pipeline(transaction=True)
        for entity, state in states.items():
            pipe.set(self.keys.detectors(entity), json.dumps(state), ex=self.meta_ttl_s)
        await pipe.execute()

    @asynccontextmanager
    async def close_lock(self, ttl_s: int = 30) -> AsyncIterator[CloseLease]:
        """A lease, true inside while this caller holds the closing lock; renewed every ``ttl_s / 3`` while the
        holder works (closing a long backlog takes longer than one TTL), released only by its holder."""
        token = uuid.uuid4().hex
        lease = CloseLease(bool(await self.client.set(self.keys.close_lock, token, nx=True, ex=ttl_s)))
        renewing = asyncio.create_task(self._renew(lease, token, ttl_s)) if lease.held else None
        try:
            yield lease
        finally:
            if renewing is not None:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
                await self.client.eval(_RELEASE_LOCK, 1, self.keys.close_lock, token)

    async def _renew(self, lease: CloseLease, token: str, ttl_s: int) -> None:
        while True:
            await asyncio.sleep(ttl_s / 3)
            try:
                renewed = await self.client.eval(_RENEW_LOCK, 1, self.keys.close_lock, token, ttl_s)
            except (aioredis.ConnectionError, aioredis.TimeoutError):
                continue  # Redis away: the holder's own calls fail too; the lock may still be ours when it is back
            if not renewed:
                lease.lost = True
                log.error("the closing lock expired and another closer holds it: this one stops")
                return
