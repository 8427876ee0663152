"""What the minute closer hands on, and the one contract every place it goes keeps.

A closed minute is one value, :class:`ClosedMinute`: its epoch minute, the alerts it opens, its rollups and the
alerts it resolves. Every sink (:mod:`stream.sinks`: SQL, Kafka, a chain of them; :mod:`stream.sensitivity`: the
per-entity filter in front of them; the tests' recorders) is a :class:`MinuteSink`: one ``emit(closed)``. A sink
must be idempotent: after a crash the closer hands the same minute again rather than skip it.

>>> from core.domain import MinuteStats
>>> closed = ClosedMinute(29_400_000, rollups=(Rollup("ACME", 29_400_000, MinuteStats(n=3)),))
>>> closed.opened, closed.resolved, [r.entity for r in closed.rollups]
((), (), ['ACME'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.alerts import Alert
from core.domain import Rollup

__all__ = ["ClosedMinute", "MinuteSink"]


@dataclass(frozen=True, slots=True)
class ClosedMinute:
    """One closed minute, as the closer hands it to its sink (every entity's rollups and alerts together)."""

    minute: int  # the epoch minute (seconds // 60) that closed
    opened: tuple[Alert, ...] = ()  # the alerts it opens (status open, with their evidence and explanation)
    rollups: tuple[Rollup, ...] = ()  # every entity's stats that had events in it, ALL_ENTITIES included
    resolved: tuple[Alert, ...] = ()  # the alerts that resolve at its end (status resolved, with resolved_at)


class MinuteSink(Protocol):
    """Takes a closed minute (:class:`ClosedMinute`); idempotent, since a minute may be closed again after a crash."""

    async def emit(self, closed: ClosedMinute) -> None: ...
