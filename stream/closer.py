"""Closing minutes: when the watermark passes a minute, run detection on it for every active entity, once.

The watermark is the largest event time minus the allowed lateness: it advances with the events, never with the
clock, so a replay of last year's data closes its minutes as correctly as a live feed. Events reach this stage
through several partitions consumed at different speeds, so a minute closes only once the watermark has been past
it for ``settle_s`` of wall time: the slower partitions catch up first (an instant replay of a whole day is
counted in full). When the watermark has not moved for ``idle_grace_s``, the stream is taken to be quiet and the
minute holding the last event is closed too, so the end of a burst is not left open.
One worker at a time holds the closing lock; minutes are closed in order and ``closed_through`` advances only
after a minute's alerts and rollups are handed to the sink, so a crash re-closes a minute rather than skip it.
Re-closing is harmless: detectors ignore minutes they already learnt and alerts are idempotent by key.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from storage.aggregates import AggregateStore
from storage.redis_keys import ALL_ENTITIES
from stream.detect import EntityDetectors, minute_start, observe_minute
from stream.detectors import MinuteStats

__all__ = ["DetectionSink", "MinuteCloser", "Rollup", "last_closable_minute"]

log = logging.getLogger("radar.closer")


@dataclass(frozen=True)
class Rollup:
    entity: str
    minute: int
    stats: MinuteStats


class DetectionSink(Protocol):
    async def emit(self, minute: int, alerts: list[dict[str, Any]], rollups: list[Rollup]) -> None: ...


def last_closable_minute(watermark: float, *, lateness_s: float, quiet: bool) -> int:
    """The last epoch minute that can be closed.

    >>> last_closable_minute(625.0, lateness_s=30, quiet=False)  # events up to 10:25 (m:ss): minute 8 closes
    8
    >>> last_closable_minute(625.0, lateness_s=30, quiet=True)  # nothing new for a while: minute 10 closes too
    10
    """
    if quiet:
        return math.floor(watermark / 60)
    return math.floor((watermark - lateness_s) / 60) - 1


class MinuteCloser:
    def __init__(
        self,
        store: AggregateStore,
        sink: DetectionSink,
        *,
        lateness_s: float = 30.0,
        settle_s: float = 5.0,
        idle_grace_s: float = 120.0,
        max_minutes: int = 600,
    ) -> None:
        self.store, self.sink = store, sink
        self.lateness_s, self.settle_s, self.idle_grace_s = lateness_s, settle_s, idle_grace_s
        self.max_minutes = max_minutes
        self._samples: deque[tuple[float, float]] = deque()  # (wall time, watermark) when it changed

    def _settled(self, now: float) -> float | None:
        """The watermark as it was ``settle_s`` ago (the newest sample at least that old)."""
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.settle_s:
            self._samples.popleft()
        first = self._samples[0] if self._samples else None
        return first[1] if first and first[0] <= now - self.settle_s else None

    async def close_ready(self, now: float) -> int:
        """Close every minute the watermark allows (at most ``max_minutes`` per call); returns how many.

        ``now`` is wall-clock time, used only to notice that the watermark stopped moving.
        """
        watermark = await self.store.watermark()
        if watermark is None:
            return 0
        if not self._samples or self._samples[-1][1] != watermark:
            self._samples.append((now, watermark))
        settled = self._settled(now)
        if settled is None:
            return 0
        quiet = now - self._samples[-1][0] >= self.idle_grace_s
        target = last_closable_minute(settled, lateness_s=self.lateness_s, quiet=quiet)
        async with self.store.close_lock() as held:
            if not held:
                return 0
            closed = await self.store.closed_through()
            first = (closed + 1) if closed is not None else await self.store.first_minute()
            if first is None or first > target:
                return 0
            last = min(target, first + self.max_minutes - 1)
            entities = await self.store.active_entities(since_minute=first - 24 * 60)
            for minute in range(first, last + 1):
                await self._close(minute, entities)
                await self.store.set_closed_through(minute)
            return last - first + 1

    async def _close(self, minute: int, entities: list[str]) -> None:
        stats = await self.store.minute_stats([*entities, ALL_ENTITIES], minute)
        states = await self.store.load_detectors(entities)
        alerts: list[dict[str, Any]] = []
        updated: dict[str, dict[str, Any]] = {}
        for entity in entities:
            if states[entity] is None and stats[entity].n == 0:
                continue  # an entity's detection starts with its first events
            detectors = EntityDetectors.from_state(states[entity])
            for alert in observe_minute(detectors, entity, minute, stats[entity]):
                first_minute = int(alert.window_start.timestamp() // 60)
                evidence = await self.store.evidence(entity, first_minute, minute)
                alerts.append({**alert.to_json(), "evidence": evidence})
            updated[entity] = detectors.to_state()
        rollups = [Rollup(e, minute, s) for e, s in stats.items() if s.n > 0]
        await self.sink.emit(minute, alerts, rollups)
        await self.store.save_detectors(updated)
        if alerts:
            log.warning("minute %s: %d alert(s): %s", minute_start(minute).strftime("%H:%M"), len(alerts),
                        "; ".join(a["message"] for a in alerts))  # fmt: skip
