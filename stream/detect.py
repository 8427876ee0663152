"""Detection for one entity: the registry's detectors and their open alerts, fed one closed minute at a time.

Pure: the caller loads the state (``EntityDetectors.from_state``), calls :func:`detect_minute` (or
:func:`observe_minute`, the openings only) for each closed minute in order, and stores the state again. A minute
already seen is ignored, so re-closing a minute after a crash neither double-counts the baseline nor fires twice.

Every detector is run the same way (:class:`stream.detectors.base.Detector`): it observes the minute, decides,
and explains the alerts it opens; which detectors run is :data:`stream.detectors.registry.REGISTRY`, so this
module names none of them. Each detector's open alerts resolve once it has been normal (its own notion: the
windowed tests' episode is over, the volume is back near the usual, the sequential test's evidence has fallen) for
``resolve_after`` closed minutes in a row (:class:`stream.detectors.policy.OpenAlerts`).

The stored state is versioned (:data:`STATE_VERSION`), and so is each detector's: a state of the layout before
the registry is upgraded (:mod:`stream.detectors.legacy`), a detector whose stored state has another version starts
afresh (its open alerts kept), and the open alerts of a detector no longer registered resolve at the next minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.alerts import Alert, alert_key
from core.domain import DetectorName, MinuteStats, Severity, minute_start
from stream.detectors.base import Detector
from stream.detectors.legacy import upgrade
from stream.detectors.policy import OpenAlerts
from stream.detectors.registry import REGISTRY, Registry
from stream.detectors.signals import Signal

__all__ = [
    "RESOLVE_AFTER_MINUTES",
    "STATE_VERSION",
    "EntityDetectors",
    "MinuteDetections",
    "detect_minute",
    "minute_start",
    "observe_minute",
    "resolve_after_minutes",
    "warmed",
]

RESOLVE_AFTER_MINUTES = 15  # RADAR_ALERT_RESOLVE_AFTER_S's default, 900 s
STATE_VERSION = 2  # of EntityDetectors.to_state's layout; 1 is the layout without "version" (stream.detectors.legacy)
_NAMES = frozenset(name.value for name in DetectorName)


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


def _fresh(registry: Registry) -> dict[DetectorName, Detector]:
    return {name: make() for name, make in registry.items()}


@dataclass
class EntityDetectors:
    """One entity's detectors (one per registry entry, in its order), each one's open alerts, the last minute
    learnt, and the open alerts of detectors no longer registered (they resolve at the next minute)."""

    detectors: dict[DetectorName, Detector] = field(default_factory=lambda: _fresh(REGISTRY))
    open_alerts: dict[DetectorName, OpenAlerts] = field(default_factory=lambda: {n: OpenAlerts() for n in REGISTRY})
    last_minute: int | None = None
    retired: list[Alert] = field(default_factory=list)

    @classmethod
    def fresh(cls, registry: Registry = REGISTRY) -> EntityDetectors:
        return cls(_fresh(registry), {name: OpenAlerts() for name in registry})

    def adopt(self, alert: Alert) -> None:
        """Hold an alert that SQL has open (Redis lost the state), without evidence, so that it resolves like the
        alerts raised here; an alert already held is not held twice."""
        lifecycle = self.open_alerts.get(alert.detector)
        held = lifecycle.alerts if lifecycle is not None else self.retired
        if all(known.key != alert.key for known in held):
            held.append(alert.model_copy(update={"evidence": [], "explanation": None}))

    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "last_minute": self.last_minute,
            "detectors": {
                name.value: {
                    "version": detector.version,
                    "state": detector.to_state(),
                    "open_alerts": self.open_alerts[name].to_state(),
                }
                for name, detector in self.detectors.items()
            },
            "retired": [alert.to_json() for alert in self.retired],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any] | None, registry: Registry = REGISTRY) -> EntityDetectors:
        """The detectors ``state`` holds, for the detectors of ``registry``.

        A state of an unknown layout (a later release's) is learnt afresh. A stored detector whose state version
        differs from its class's starts afresh, its open alerts kept; a stored detector no longer registered hands
        its open alerts to ``retired``; one whose name this release does not know (a later release's) is dropped.
        """
        if not state:
            return cls.fresh(registry)
        if "version" not in state:
            state = upgrade(state)
        if state["version"] != STATE_VERSION:
            return cls.fresh(registry)
        stored: dict[str, Any] = state["detectors"]
        detectors, open_alerts = {}, {}
        for name, make in registry.items():
            entry = stored.get(name.value) or {}
            same = entry.get("version") == make.version and entry.get("state") is not None
            detectors[name] = make.from_state(entry["state"]) if same else make()
            open_alerts[name] = OpenAlerts.from_state(entry.get("open_alerts"))
        retired = [Alert.model_validate(alert) for alert in state.get("retired", [])]
        for value, entry in stored.items():
            if value in _NAMES and DetectorName(value) not in registry:
                retired += OpenAlerts.from_state(entry.get("open_alerts")).alerts
        return cls(detectors, open_alerts, state["last_minute"], retired)


def _alert(entity: str, detector: Detector, signal: Signal, end: datetime, severity: Severity) -> Alert:
    """The alert as published: figures rounded (4 decimals, z 3), the window the detector looked at."""
    start = end - timedelta(minutes=detector.window_minutes)
    return Alert(
        key=alert_key(entity, detector.name, start),
        entity=entity,
        detector=detector.name,
        window_start=start,
        window_end=end,
        observed=round(signal.observed, 4),
        expected=round(signal.expected, 4),
        score=round(signal.score, 4),
        z=round(signal.z, 3),
        severity=severity,
        message=detector.explain(entity, signal, end),
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

    >>> d = warmed([4] * 1440, first_minute=0)  # the volume detectors have watched a day of the entity
    >>> quiet = MinuteStats(n=4, negative=1, neutral=1, positive=2, total=0.5, total_sq=1.6, voices=50)
    >>> [a for m in range(1440, 1500) for a in detect_minute(d, "ACME", m, quiet).opened]
    []
    >>> storm = MinuteStats(n=40, negative=34, neutral=4, positive=2, total=-26.0, total_sq=24.0, voices=400)
    >>> opened = [a.detector for m in range(1500, 1504) for a in detect_minute(d, "ACME", m, storm).opened]
    >>> sorted(opened) == sorted(d.detectors)  # every detector alerts on a storm, once
    True
    >>> detect_minute(d, "ACME", 1503, storm)  # a minute already learnt is ignored
    MinuteDetections(opened=[], resolved=[])
    >>> resolved = [(m, a.detector) for m in range(1504, 1560) for a in detect_minute(d, "ACME", m, quiet).resolved]
    >>> sorted(detector for _, detector in resolved) == sorted(opened), all(m < 1530 for m, _ in resolved)
    (True, True)
    """
    if detectors.last_minute is not None and minute <= detectors.last_minute:
        return MinuteDetections()
    detectors.last_minute = minute
    end = minute_start(minute + 1)
    found = MinuteDetections(resolved=[alert.resolved(end) for alert in detectors.retired])
    detectors.retired = []
    for name, detector in detectors.detectors.items():
        signal = detector.observe(stats, minute * 60.0)
        decision = detector.decide(signal)
        lifecycle = detectors.open_alerts[name]
        # while its last alert is unresolved the episode goes on: a detector that fires again after a lull (its
        # policy's cooldown is shorter than the resolution) adds no second alert for the same incident
        fresh = decision.fire and not lifecycle.alerts
        opened = [_alert(entity, detector, signal, end, decision.severity)] if fresh else []
        found.opened.extend(opened)
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
    """Detectors whose count-only detectors (volume) have already watched ``counts`` (one per minute from
    ``first_minute``).

    The volume detector calibrates on its entity's own history, so a new entity earns its volume alerts over days;
    this is how a replay or a test stands in for a worker that has watched the entity that long. The sentiment
    detectors start fresh: counts carry no labels to learn from.

    >>> d = warmed([3, 4, 2, 5] * 360, first_minute=1000)
    >>> learnt = {name: type(x)().to_state() != x.to_state() for name, x in d.detectors.items()}
    >>> d.last_minute, all(learnt[name] == x.counts_only for name, x in d.detectors.items())
    (2439, True)
    """
    detectors = EntityDetectors()
    for i, n in enumerate(counts):
        for detector in detectors.detectors.values():
            if detector.counts_only:
                detector.observe(MinuteStats(n=int(n)), (first_minute + i) * 60.0)
    detectors.last_minute = first_minute + len(counts) - 1
    return detectors
