"""The stream's series detector over an offline series (``timestamp,value`` rows): what ``radar detect`` runs and
what the NAB benchmark scores. Same class, same parameters, same alert rule as the minute closer."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from core.domain import as_utc
from stream.detectors.series import RECURRENCE_DAYS, Reading, SeriesDetector

__all__ = ["RECURRENCE_DAYS", "epoch_seconds", "score_series"]


def epoch_seconds(stamp: datetime) -> float:
    """Naive timestamps are read as UTC (NAB's files carry no zone)."""
    return as_utc(stamp).timestamp()


def score_series(
    values: Iterable[float], timestamps: Sequence[datetime], *, recurrence_days: float = RECURRENCE_DAYS
) -> list[Reading]:
    """One reading per value: its score in [0, 1) and whether it is an alert (rarer than once in
    ``recurrence_days`` days of the series, in a new episode).

    >>> from datetime import UTC, timedelta
    >>> start = datetime(2026, 1, 5, tzinfo=UTC)
    >>> values = [10, 12, 9, 11, 10, 13, 11, 9] * 40 + [80, 81, 11, 10]
    >>> readings = score_series(values, [start + timedelta(minutes=5 * i) for i in range(len(values))])
    >>> [i for i, r in enumerate(readings) if r.alert], readings[321].score  # the burst alerts once
    ([320], 0.0)
    """
    detector = SeriesDetector(recurrence_days=recurrence_days)
    return [detector.update(epoch_seconds(t), float(v)) for v, t in zip(values, timestamps, strict=True)]
