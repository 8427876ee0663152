"""When a signal becomes an alert: warm-up, hysteresis, cooldown and severity, the same for every detector.

An alert opens when the score reaches ``open_at`` (z about 4.2), or ``confirm_at`` (z 3.5) twice in a row (a surer
path for incidents that build up), stays open until the score falls below ``close_below`` (hysteresis: no flapping), and
after it closes the same detector stays quiet for ``cooldown`` minutes. Only the opening minute emits an alert,
so one incident is one alert, whose key is entity + detector + window start.

When an alert *resolves* is :class:`OpenAlerts`' rule, the same for every detector: once its detector has been
normal (:attr:`AlertDecision.normal`: the episode is over) for ``resolve_after`` closed minutes in a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from core.alerts import Alert
from core.domain import Severity
from stream.detectors.signals import Signal

__all__ = ["MAX_OPEN", "AlertDecision", "AlertPolicy", "OpenAlerts", "severity_for"]

MAX_OPEN = 16  # open alerts kept per detector (bounded state); beyond, the oldest resolves at once

# the least z of each severity above info, highest first
_Z_FLOORS = ((12.0, Severity.CRITICAL), (7.0, Severity.HIGH), (4.5, Severity.WARNING))


def severity_for(z: float) -> Severity:
    """Severity by how many baseline scales the signal stands out.

    >>> [severity_for(z).value for z in (3, 5, 8, 13)]
    ['info', 'warning', 'high', 'critical']
    """
    return next((severity for floor, severity in _Z_FLOORS if z >= floor), Severity.INFO)


@dataclass(frozen=True)
class AlertDecision:
    """One closed minute's verdict: an alert opens (``fire``); the episode goes on (``active``) or is over."""

    fire: bool
    active: bool
    severity: Severity = Severity.INFO

    @property
    def normal(self) -> bool:
        """No episode: the minute counts towards resolving the detector's open alerts."""
        return not self.active and not self.fire


@dataclass
class AlertPolicy:
    """Turn a stream of signals (one per closed minute) into alert openings.

    >>> p = AlertPolicy(open_at=0.9, confirm_at=0.6, close_below=0.3, cooldown=3)
    >>> def s(score, z=6.0): return Signal(z=z, score=score, observed=0, expected=0, ready=True)
    >>> [p.decide(s(x)).fire for x in (0.1, 0.95, 0.97, 0.5, 0.2, 0.95, 0.1, 0.1, 0.1, 0.95)]
    [False, True, False, False, False, False, False, False, False, True]
    >>> p2 = AlertPolicy(open_at=0.9, confirm_at=0.6); [p2.decide(s(x)).fire for x in (0.7, 0.7)]
    [False, True]
    """

    open_at: float = 0.75
    confirm_at: float = 0.5
    close_below: float = 0.2
    cooldown: int = 15
    active: bool = False
    quiet_for: int = 0
    previous_score: float = 0.0

    def decide(self, signal: Signal) -> AlertDecision:
        previous, self.previous_score = self.previous_score, signal.score
        if not signal.ready:
            return AlertDecision(False, self.active)
        if self.active:
            if signal.score < self.close_below:
                self.active = False
                self.quiet_for = self.cooldown
            return AlertDecision(False, self.active, severity_for(signal.z))
        if self.quiet_for > 0:  # no new alert yet; a score back above close_below still says the episode goes on
            self.quiet_for -= 1
            return AlertDecision(False, signal.score >= self.close_below)
        opens = signal.score >= self.open_at or (signal.score >= self.confirm_at and previous >= self.confirm_at)
        if opens:
            self.active = True
            return AlertDecision(True, True, severity_for(signal.z))
        return AlertDecision(False, False)

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AlertPolicy:
        return cls(**state)


@dataclass
class OpenAlerts:
    """A detector's open alerts (as raised, without evidence) and how long it has been normal since the last opened.

    They resolve together, at the end of the ``resolve_after``-th normal closed minute in a row; a minute that is
    not normal starts the count again, and so does a new alert (``detect_minute`` opens none while one is open; a
    state stored by an earlier release may hold several).

    >>> from datetime import UTC, timedelta
    >>> at = datetime(2026, 1, 5, 10, tzinfo=UTC)
    >>> alert = Alert(key="ACME:x", entity="ACME", detector="volume_spike", window_start=at, window_end=at, observed=9,
    ...               expected=1, score=0.9, z=5, severity="warning", message="ACME: 9")
    >>> lifecycle = OpenAlerts()
    >>> lifecycle.observe([alert], normal=False, resolve_after=3, at=at)
    []
    >>> [len(lifecycle.observe([], normal=n, resolve_after=3, at=at)) for n in (True, False, True, True)]
    [0, 0, 0, 0]
    >>> [(a.key, a.status.value) for a in lifecycle.observe([], normal=True, resolve_after=3, at=at)]
    [('ACME:x', 'resolved')]
    >>> lifecycle.alerts, OpenAlerts.from_state(lifecycle.to_state()) == lifecycle
    ([], True)
    """

    alerts: list[Alert] = field(default_factory=list)
    normal_for: int = 0  # closed minutes in a row the detector has been normal since the last alert opened

    def observe(self, opened: Sequence[Alert], *, normal: bool, resolve_after: int, at: datetime) -> list[Alert]:
        """One closed minute ending at ``at``: keep the alerts that ``opened``; returns those that resolve, resolved
        at ``at``."""
        if opened:
            kept = [*self.alerts, *opened]
            self.alerts, self.normal_for = kept[-MAX_OPEN:], 0
            return [alert.resolved(at) for alert in kept[:-MAX_OPEN]]
        if not self.alerts:
            return []
        self.normal_for = self.normal_for + 1 if normal else 0
        if self.normal_for < max(resolve_after, 1):
            return []
        done, self.alerts, self.normal_for = self.alerts, [], 0
        return [alert.resolved(at) for alert in done]

    def to_state(self) -> dict[str, Any]:
        return {"alerts": [alert.to_json() for alert in self.alerts], "normal_for": self.normal_for}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> OpenAlerts:
        if not state:
            return cls()
        return cls([Alert.model_validate(alert) for alert in state["alerts"]], int(state["normal_for"]))
