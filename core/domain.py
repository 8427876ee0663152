"""The domain types that cross layers: what a closed minute holds, a rollup of it, and minute arithmetic.

They live at the bottom so that the stores (``storage``) and the stream stages (``stream``) speak the same types
without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["MinuteStats", "Rollup", "minute_start"]


@dataclass(frozen=True)
class MinuteStats:
    """One closed bucket: counts per label and the sum and sum of squares of the signed score.

    >>> MinuteStats(n=2, negative=1, positive=1, total=0.1) + MinuteStats(n=1, neutral=1)
    MinuteStats(n=3, negative=1, neutral=1, positive=1, total=0.1, total_sq=0.0)
    """

    n: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    def __add__(self, other: MinuteStats) -> MinuteStats:
        return MinuteStats(
            self.n + other.n, self.negative + other.negative, self.neutral + other.neutral,
            self.positive + other.positive, self.total + other.total, self.total_sq + other.total_sq,
        )  # fmt: skip


@dataclass(frozen=True)
class Rollup:
    """One entity's closed minute, as the SQL rollups keep it."""

    entity: str
    minute: int
    stats: MinuteStats


def minute_start(minute: int) -> datetime:
    """An epoch minute as an aware UTC datetime.

    >>> minute_start(29_400_000).isoformat()
    '2025-11-24T16:00:00+00:00'
    """
    return datetime.fromtimestamp(minute * 60, tz=UTC)
