"""Detection for one entity: three detectors and their alert policies, fed one closed minute at a time.

Pure: the caller loads the state (``EntityDetectors.from_state``), calls :func:`detect_minute` (or
:func:`observe_minute`, the openings only) for each closed minute in order, and stores the state again. A minute
already seen is ignored, so re-closing a minute after a crash neither double-counts the baseline nor fires twice.

Each detector's open alerts resolve once it has been normal for ``resolve_after`` closed minutes in a row
(:class:`stream.detectors.policy.OpenAlerts`): the windowed detectors when their policy's episode is over (the
score fell below ``close_below``), the volume detector when the count is back within :data:`VOLUME_NORMAL_Z`
baseline scales of the usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.alerts import Alert, alert_key
from core.domain import Severity, minute_start
from stream.detectors import AlertPolicy, MinuteStats, NegativeShare, OpenAlerts, SentimentShift, Signal, VolumeSpike
from stream.detectors.policy import AlertDecision, severity_for

__all__ = [
    "DETECTORS",
    "RESOLVE_AFTER_MINUTES",
    "VOLUME_NORMAL_Z",
    "EntityDetectors",
    "MinuteDetections",
    "detect_minute",
    "minute_start",
    "observe_minute",
    "resolve_after_minutes",
    "warmed",
]

DETECTORS = ("volume_spike", "sentiment_shift", "negative_surge")
POLICED = ("sentiment_shift", "negative_surge")
RESOLVE_AFTER_MINUTES = 15  # RADAR_ALERT_RESOLVE_AFTER_S's default, 900 s
VOLUME_NORMAL_Z = 3.0  # the volume is normal again within this many baseline scales (its baseline's clip)


def resolve_after_minutes(seconds: float) -> int:
    """``RADAR_ALERT_RESOLVE_AFTER_S`` in closed minutes (whole minutes, at least one).

    >>> resolve_after_minutes(900), resolve_after_minutes(61), resolve_after_minutes(1)
    (15, 2, 1)
    """
    return max(1, -(-int(seconds) // 60))


@dataclass(frozen=True)
class MinuteDetections:
    """What one closed minute decided for one entity: alerts that open, and alerts that resolve (status resolved,
    resolved_at the end of the minute); neither carries evidence (the closer adds it)."""

    opened: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)


@dataclass
class EntityDetectors:
    volume: VolumeSpike = field(default_factory=VolumeSpike)
    sentiment: SentimentShift = field(default_factory=SentimentShift)
    negative: NegativeShare = field(default_factory=NegativeShare)
    # the volume detector gates its own episodes (see SeriesDetector); the windowed tests need a policy
    policies: dict[str, AlertPolicy] = field(default_factory=lambda: {d: AlertPolicy() for d in POLICED})
    last_minute: int | None = None
    # each detector's open alerts, until they resolve (absent from states stored before the alert lifecycle)
    open_alerts: dict[str, OpenAlerts] = field(default_factory=lambda: {d: OpenAlerts() for d in DETECTORS})

    def to_state(self) -> dict[str, Any]:
        return {
            "volume": self.volume.to_state(),
            "sentiment": self.sentiment.to_state(),
            "negative": self.negative.to_state(),
            "last_minute": self.last_minute,
            "policies": {name: policy.to_state() for name, policy in self.policies.items()},
            "open_alerts": {name: lifecycle.to_state() for name, lifecycle in self.open_alerts.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> EntityDetectors:
        if not state:
            return cls()
        open_alerts = state.get("open_alerts") or {}
        return cls(
            volume=VolumeSpike.from_state(state["volume"]),
            sentiment=SentimentShift.from_state(state["sentiment"]),
            negative=NegativeShare.from_state(state["negative"]),
            policies={name: AlertPolicy.from_state(p) for name, p in state["policies"].items() if name in POLICED},
            last_minute=state["last_minute"],
            open_alerts={name: OpenAlerts.from_state(open_alerts.get(name)) for name in DETECTORS},
        )


def _message(entity: str, detector: str, signal: Signal, minutes: int, end: datetime) -> str:
    at = end.strftime("%H:%M")
    observed, expected = signal.observed, signal.expected
    if detector == "volume_spike":
        ratio = observed / max(expected, 0.1)
        return f"{entity}: {observed:.0f} items in the minute to {at} UTC, {ratio:.1f}x the usual {expected:.1f}"
    window = f"over the {minutes} min to {at} UTC"
    if detector == "sentiment_shift":
        return f"{entity}: mean sentiment {observed:+.2f} {window} against a usual {expected:+.2f}"
    return f"{entity}: {observed:.0%} of items negative {window} against a usual {expected:.0%}"


def _alert(entity: str, detector: str, signal: Signal, minutes: int, end: datetime, severity: Severity) -> Alert:
    """The alert as published: figures rounded (4 decimals, z 3), the window the detector looked at."""
    start = end - timedelta(minutes=minutes)
    return Alert(
        key=alert_key(entity, detector, start),
        entity=entity,
        detector=detector,
        window_start=start,
        window_end=end,
        observed=round(signal.observed, 4),
        expected=round(signal.expected, 4),
        score=round(signal.score, 4),
        z=round(signal.z, 3),
        severity=severity,
        message=_message(entity, detector, signal, minutes, end),
    )


def detect_minute(
    detectors: EntityDetectors,
    entity: str,
    minute: int,
    stats: MinuteStats,
    *,
    resolve_after: int = RESOLVE_AFTER_MINUTES,
) -> MinuteDetections:
    """Learn one closed minute; returns the alerts that open at it and those that resolve at its end.

    >>> d = EntityDetectors()
    >>> quiet = MinuteStats(n=4, negative=1, neutral=1, positive=2, total=0.5, total_sq=1.6)
    >>> [a for m in range(60) for a in detect_minute(d, "ACME", m, quiet).opened]
    []
    >>> storm = MinuteStats(n=40, negative=34, neutral=4, positive=2, total=-26.0, total_sq=24.0)
    >>> sorted({a.detector for m in range(60, 64) for a in detect_minute(d, "ACME", m, storm).opened})
    ['negative_surge', 'sentiment_shift', 'volume_spike']
    >>> detect_minute(d, "ACME", 63, storm)  # a minute already learnt is ignored
    MinuteDetections(opened=[], resolved=[])
    >>> resolved = [(m, a.detector) for m in range(64, 120) for a in detect_minute(d, "ACME", m, quiet).resolved]
    >>> sorted(detector for _, detector in resolved), all(m < 90 for m, _ in resolved)
    (['negative_surge', 'sentiment_shift', 'volume_spike'], True)
    """
    if detectors.last_minute is not None and minute <= detectors.last_minute:
        return MinuteDetections()
    detectors.last_minute = minute
    end = minute_start(minute + 1)
    signals = {
        "volume_spike": (detectors.volume.update(stats, minute * 60.0), 1),
        "sentiment_shift": (detectors.sentiment.update(stats), detectors.sentiment.window),
        "negative_surge": (detectors.negative.update(stats), detectors.negative.window),
    }
    found = MinuteDetections()
    for name, (signal, minutes) in signals.items():
        if name in POLICED:
            decision = detectors.policies[name].decide(signal)
        else:  # the same rule as `radar detect`: the series detector's alert; normal once back near the usual
            decision = AlertDecision(signal.alert, signal.z >= VOLUME_NORMAL_Z, severity_for(signal.z))
        opened = [_alert(entity, name, signal, minutes, end, decision.severity)] if decision.fire else []
        found.opened.extend(opened)
        lifecycle = detectors.open_alerts[name]
        found.resolved.extend(lifecycle.observe(opened, normal=decision.normal, resolve_after=resolve_after, at=end))
    return found


def observe_minute(detectors: EntityDetectors, entity: str, minute: int, stats: MinuteStats) -> list[Alert]:
    """Learn one closed minute; returns the alerts that open at it (:func:`detect_minute` without resolutions).

    >>> storm = MinuteStats(n=40, negative=34, neutral=4, positive=2, total=-26.0, total_sq=24.0)
    >>> observe_minute(EntityDetectors(), "ACME", 0, storm)  # detectors learn before they judge
    []
    """
    return detect_minute(detectors, entity, minute, stats).opened


def warmed(counts: Sequence[int], first_minute: int) -> EntityDetectors:
    """Detectors whose volume detector has already watched ``counts`` (one per minute from ``first_minute``).

    The volume detector calibrates on its entity's own history, so a new entity earns its volume alerts over days;
    this is how a replay or a test stands in for a worker that has watched the entity that long. The sentiment
    detectors start fresh: counts carry no labels to learn from.

    >>> d = warmed([3, 4, 2, 5] * 360, first_minute=1000)
    >>> d.last_minute, d.volume.series.n
    (2439, 1440)
    """
    detectors = EntityDetectors()
    for i, n in enumerate(counts):
        detectors.volume.update(MinuteStats(n=int(n)), (first_minute + i) * 60.0)
    detectors.last_minute = first_minute + len(counts) - 1
    return detectors
