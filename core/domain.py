"""The domain types that cross layers: the sentiment labels in the model contract's order, the severity scale,
what a closed minute holds, a rollup of it, and minute arithmetic. The records built from them (events, alerts)
are in ``core/events.py`` and ``core/alerts.py``.

They live at the bottom so that the stores (``storage``), the model code (``inference``) and the stream stages
(``stream``) speak the same types without importing each other.

>>> [label.value for label in Label], Label.of([0.1, 0.2, 0.7]), Label.POSITIVE.position
(['negative', 'neutral', 'positive'], <Label.POSITIVE: 'positive'>, 2)
>>> Severity.HIGH >= Severity.WARNING, Severity("info").rank, Severity.at_least("high")
(True, 0, [<Severity.HIGH: 'high'>, <Severity.CRITICAL: 'critical'>])
>>> [status.value for status in AlertStatus], AlertStatus.ACKNOWLEDGED.is_active
(['open', 'acknowledged', 'resolved'], True)
>>> DetectorName("negative_surge") is DetectorName.NEGATIVE_SURGE, f"radar_{DetectorName.VOLUME_SPIKE}"
(True, 'radar_volume_spike')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

__all__ = [
    "FINISHED_DELIVERIES",
    "LABELS",
    "UNFINISHED_DELIVERIES",
    "VOICE_WINDOW_MINUTES",
    "AlertStatus",
    "DeliveryStatus",
    "DetectorName",
    "Label",
    "MinuteStats",
    "Rollup",
    "Severity",
    "as_utc",
    "minute_start",
    "signed_score",
]


class Label(StrEnum):
    """A sentiment label; the order of the model contract: PROBS = [negative, neutral, positive]."""

    # The declaration order is that order: the model's outputs, the Triton configs and the scored event follow it.
    # The docstring is the published JSON Schemas' description of the type: one plain sentence.

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"

    @property
    def position(self) -> int:
        return _LABEL_ORDER.index(self)

    @classmethod
    def of(cls, probs: list[float] | tuple[float, ...]) -> Label:
        """The most probable label (the first on a tie, as argmax does)."""
        return _LABEL_ORDER[max(range(len(_LABEL_ORDER)), key=lambda i: probs[i])]


_LABEL_ORDER: tuple[Label, ...] = tuple(Label)
LABELS: tuple[str, ...] = tuple(label.value for label in Label)


def signed_score(probs: list[float] | tuple[float, ...]) -> float:
    """p(positive) - p(negative): the signed sentiment in [-1, 1] of the scored-event contract.

    >>> round(signed_score([0.1, 0.2, 0.7]), 6)
    0.6
    """
    return float(probs[Label.POSITIVE.position]) - float(probs[Label.NEGATIVE.position])


class Severity(StrEnum):
    """How far an alert stands out, in rising order: info, warning, high, critical."""

    # Subscriptions and queries filter on ``at_least``. The docstring is the published JSON Schemas' description.

    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)

    def __ge__(self, other: object) -> bool:
        return self.rank >= Severity(other).rank if isinstance(other, str) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self.rank > Severity(other).rank if isinstance(other, str) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self.rank <= Severity(other).rank if isinstance(other, str) else NotImplemented

    def __lt__(self, other: object) -> bool:
        return self.rank < Severity(other).rank if isinstance(other, str) else NotImplemented

    @classmethod
    def at_least(cls, minimum: str | Severity) -> list[Severity]:
        floor = cls(minimum).rank
        return [severity for severity in _SEVERITY_ORDER if severity.rank >= floor]


_SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)


class DeliveryStatus(StrEnum):
    """Where a webhook delivery (an outbox row) stands: pending (due at ``next_attempt_at``), sending (leased by a
    dispatcher until ``lease_until``), then finished: delivered, dead (gave up, or refused for good) or cancelled
    (its subscription was disabled or removed)."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"


UNFINISHED_DELIVERIES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
FINISHED_DELIVERIES = (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD, DeliveryStatus.CANCELLED)


class AlertStatus(StrEnum):
    """Where an alert stands: open, acknowledged by a person, or resolved once its detector stayed normal."""

    # open -> acknowledged -> resolved, or open -> resolved; resolved is final. The docstring is the published JSON
    # Schemas' description.

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def is_active(self) -> bool:
        """Open or acknowledged: not resolved yet."""
        return self is not AlertStatus.RESOLVED


class DetectorName(StrEnum):
    """The detector that raised an alert: volume_spike, sentiment_shift, negative_surge, negative_cusum or
    volume_breadth."""

    # A wire name: radar.alerts, SQL (alerts.detector), webhooks, subscriptions' filters, the API's query, the Redis
    # detector state. A value never changes and is never reused; a detector retired from the stream keeps its member
    # so that the alerts it raised still load. Each member has one class in stream/detectors/registry.py. The
    # docstring is the published JSON Schemas' description.

    VOLUME_SPIKE = "volume_spike"
    SENTIMENT_SHIFT = "sentiment_shift"
    NEGATIVE_SURGE = "negative_surge"
    NEGATIVE_CUSUM = "negative_cusum"
    VOLUME_BREADTH = "volume_breadth"


VOICE_WINDOW_MINUTES = 15
"""``MinuteStats.voices`` counts the distinct voices of the minutes that end with this one, this many of them."""


@dataclass(frozen=True)
class MinuteStats:
    """One closed bucket: counts per label and the sum and sum of squares of the signed score; and ``voices``, the
    distinct voices (an event's author, or its source where it names none) over the :data:`VOICE_WINDOW_MINUTES`
    minutes to this one's end.

    Why a window and not the minute: a burst carried by a few accounts and an incident carried by many differ in
    how many people speak over a quarter of an hour, while a single minute of a quiet entity has one or two events
    either way. Distinct counts do not add up, so ``+`` (news and social of one minute, a window's minutes) keeps
    the larger: the store counts a minute's voices over both kinds at once.

    >>> MinuteStats(n=2, negative=1, positive=1, total=0.1, voices=5) + MinuteStats(n=1, neutral=1, voices=3)
    MinuteStats(n=3, negative=1, neutral=1, positive=1, total=0.1, total_sq=0.0, voices=5)
    """

    n: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    voices: int = 0

    def __add__(self, other: MinuteStats) -> MinuteStats:
        return MinuteStats(
            n=self.n + other.n,
            negative=self.negative + other.negative,
            neutral=self.neutral + other.neutral,
            positive=self.positive + other.positive,
            total=self.total + other.total,
            total_sq=self.total_sq + other.total_sq,
            voices=max(self.voices, other.voices),
        )


@dataclass(frozen=True)
class Rollup:
    """One entity's closed minute, as the SQL rollups keep it."""

    entity: str
    minute: int
    stats: MinuteStats


def as_utc(value: datetime) -> datetime:
    """A stored time as UTC: SQLite hands back naive datetimes (and NAB's files carry no zone); every time the
    project stores is UTC.

    >>> as_utc(datetime(2026, 1, 5, 9, 30)).isoformat()
    '2026-01-05T09:30:00+00:00'
    """
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def minute_start(minute: int) -> datetime:
    """An epoch minute as an aware UTC datetime.

    >>> minute_start(29_400_000).isoformat()
    '2025-11-24T16:00:00+00:00'
    """
    return datetime.fromtimestamp(minute * 60, tz=UTC)
