"""When a signal becomes an alert: warm-up, hysteresis, cooldown and severity, the same for every detector.

An alert opens when the score reaches ``open_at`` (z about 4.2), or ``confirm_at`` (z 3.5) twice in a row (a surer
path for incidents that build up), stays open until the score falls below ``close_below`` (hysteresis: no flapping), and
after it closes the same detector stays quiet for ``cooldown`` minutes. Only the opening minute emits an alert,
so one incident is one alert, whose key is entity + detector + window start.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core.domain import Severity
from stream.detectors.signals import Signal

__all__ = ["AlertDecision", "AlertPolicy", "severity_for"]

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
    fire: bool
    active: bool
    severity: Severity = Severity.INFO


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
        if self.quiet_for > 0:
            self.quiet_for -= 1
            return AlertDecision(False, False)
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
