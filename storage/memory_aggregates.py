"""An in-memory aggregate store: what ``add_event.lua`` and :class:`storage.aggregates.AggregateStore` do, in dicts.

Why it exists: the minute closer's rules are tested without Redis (``tests/unit/test_closer.py``). It keeps the
Redis store's semantics where the closer can tell: an event id counts once, an event whose minute is closed is
refused as late (its id kept), marks only grow, evidence is the 20 newest per entity and minute, detector state
goes through JSON, voices are counted over the same window (exactly, where Redis estimates). It keeps no TTLs and
no hour buckets, and its lock is per instance, not across processes: it is a test double, not a cache.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from core.alerts import Evidence
from core.domain import VOICE_WINDOW_MINUTES, MinuteStats
from core.events import dedupe_key
from storage.aggregates import KINDS, AddResult, ScoredItem, evidence_of, snippet_of, stats_from_hash
from storage.minute_store import CloseLease
from storage.redis_keys import ALL_ENTITIES

__all__ = ["EVIDENCE_KEPT", "MemoryAggregateStore"]

EVIDENCE_KEPT = 20  # as add_event.lua's LTRIM


class MemoryAggregateStore:
    """A :class:`storage.minute_store.MinuteStore` in memory, with ``add_batch`` to fill it.

    >>> import asyncio
    >>> from datetime import UTC, datetime
    >>> at = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)
    >>> item = ScoredItem("e1", "news", ("ACME",), "negative", -0.8, at, "bad news", "wire")
    >>> store = MemoryAggregateStore()
    >>> asyncio.run(store.add_batch([item, item]))
    AddResult(counted=1, duplicates=1, late=[], refused=[])
    >>> asyncio.run(store.minute_stats(["ACME"], int(at.timestamp() // 60)))["ACME"].n
    1
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._buckets: dict[tuple[str, str, int], MinuteStats] = {}
        self._evidence: dict[tuple[str, int], list[str]] = {}  # newest first, as LPUSH leaves it
        self._voices: dict[tuple[str, int], set[str]] = {}  # exact sets where Redis keeps HyperLogLogs
        self._entities: dict[str, int] = {}  # entity -> last minute with events
        self._watermark: float | None = None
        self._first_minute: int | None = None
        self._closed_through: int | None = None
        self._detectors: dict[str, str] = {}  # JSON, as Redis keeps it
        self._locked = False

    # --- writes ---
    async def add_batch(self, items: Sequence[ScoredItem]) -> AddResult:
        return AddResult.of_codes([self._add(item) for item in items])

    def _add(self, item: ScoredItem) -> int:
        """add_event.lua's steps: 0 duplicate, 2 late, 1 counted."""
        seen = dedupe_key(item.source, item.id)
        if seen in self._seen:
            return 0
        self._seen.add(seen)
        ts = item.published_at.timestamp()
        minute = int(ts // 60)
        if self._closed_through is not None and minute <= self._closed_through:
            return 2
        for entity, label, score in item.targets():
            one = stats_from_hash({"n": "1", label: "1", "total": str(score), "total_sq": str(score**2)})
            snippet = snippet_of(item, score, label)
            key = (entity, item.kind, minute)
            self._buckets[key] = self._buckets.get(key, MinuteStats()) + one
            self._evidence[(entity, minute)] = [snippet, *self._evidence.get((entity, minute), [])][:EVIDENCE_KEPT]
            self._entities[entity] = max(minute, self._entities.get(entity, minute))
            if item.voice:
                self._voices.setdefault((entity, minute), set()).add(item.voice)
        self._watermark = ts if self._watermark is None else max(self._watermark, ts)
        self._first_minute = minute if self._first_minute is None else min(self._first_minute, minute)
        return 1

    async def set_closed_through(self, minute: int) -> None:
        self._closed_through = minute

    async def save_detectors(self, states: dict[str, dict[str, Any]]) -> None:
        self._detectors.update({entity: json.dumps(state) for entity, state in states.items()})

    @asynccontextmanager
    async def close_lock(self, ttl_s: int = 30) -> AsyncIterator[CloseLease]:
        got = not self._locked
        self._locked = True
        try:
            yield CloseLease(got)
        finally:
            if got:
                self._locked = False

    # --- reads ---
    async def watermark(self) -> float | None:
        return self._watermark

    async def first_minute(self) -> int | None:
        return self._first_minute

    async def closed_through(self) -> int | None:
        return self._closed_through

    async def active_entities(self, since_minute: int) -> list[str]:
        return sorted(e for e, last in self._entities.items() if last >= since_minute and e != ALL_ENTITIES)

    async def minute_stats(self, entities: Sequence[str], minute: int) -> dict[str, MinuteStats]:
        empty = MinuteStats()
        window = range(minute - VOICE_WINDOW_MINUTES + 1, minute + 1)
        return {
            entity: replace(
                sum((self._buckets.get((entity, kind, minute), empty) for kind in KINDS), empty),
                voices=len(set().union(*(self._voices.get((entity, m), set()) for m in window))),
            )
            for entity in entities
        }

    async def evidence(self, entity: str, first_minute: int, last_minute: int, limit: int | None = 5) -> list[Evidence]:
        kept = [
            raw for minute in range(first_minute, last_minute + 1) for raw in self._evidence.get((entity, minute), [])
        ]
        return evidence_of(kept, limit)

    async def load_detectors(self, entities: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        return {e: (json.loads(self._detectors[e]) if e in self._detectors else None) for e in entities}
