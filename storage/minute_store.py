"""What the minute closer needs from the aggregate store, as a protocol.

The closer's rules (when a minute may close, that it closes once and in order, that ``closed_through`` moves only
after the sink has the minute) are the subtle part of detection. Written against this interface, they are tested
on :class:`storage.memory_aggregates.MemoryAggregateStore` without Redis; :class:`storage.aggregates.AggregateStore`
is the Redis implementation the workers run, tested on real Redis by the integration tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from core.alerts import Evidence
from core.domain import MinuteStats

__all__ = ["CloseLease", "MinuteStore"]


class CloseLease:
    """The closing lock as its holder sees it: true while held. The store renews it while the holder works and
    marks it lost if another took it meanwhile (the lock expired: a stalled process), so the holder stops before
    its next minute instead of closing beside another closer."""

    def __init__(self, held: bool) -> None:
        self.held, self.lost = held, False

    def __bool__(self) -> bool:
        return self.held and not self.lost


class MinuteStore(Protocol):
    """The counted minutes, the largest event time counted, the closing state and detector state."""

    async def watermark(self) -> float | None:
        """The largest event time counted (None before the first event)."""
        ...

    async def first_minute(self) -> int | None:
        """The earliest epoch minute counted."""
        ...

    async def closed_through(self) -> int | None:
        """The last epoch minute closed."""
        ...

    async def set_closed_through(self, minute: int) -> None: ...

    def close_lock(self, ttl_s: int = 30) -> AbstractAsyncContextManager[CloseLease]:
        """A lease, true inside while this caller holds the closing lock (one closer at a time, across workers);
        renewed every third of ``ttl_s`` while held."""
        ...

    async def active_entities(self, since_minute: int) -> list[str]:
        """The entities with events since ``since_minute``, sorted, the all-entities total left out."""
        ...

    async def minute_stats(self, entities: Sequence[str], minute: int) -> dict[str, MinuteStats]: ...

    async def evidence(self, entity: str, first_minute: int, last_minute: int, limit: int | None = 5) -> list[Evidence]:
        """The most negative events of the window, for an alert (id, the start of the text, score, source, kind,
        label); every one kept with ``limit`` None."""
        ...

    async def load_detectors(self, entities: Sequence[str]) -> dict[str, dict[str, Any] | None]: ...

    async def save_detectors(self, states: dict[str, dict[str, Any]]) -> None: ...
