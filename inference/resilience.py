"""A circuit breaker for the Triton client: a pure state machine with an injected clock (no sleeping here).

The retry backoff is the project's one backoff, :class:`core.retry.Backoff`; it is re-exported here because the
Triton client takes one (its retries within a call) next to its breaker (whether to call at all).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.retry import Backoff

__all__ = ["Backoff", "CircuitBreaker"]


@dataclass
class CircuitBreaker:
    """Closed -> open after ``threshold`` consecutive failures; after ``reset_s`` one trial call (half-open).

    >>> cb = CircuitBreaker(threshold=2, reset_s=10)
    >>> cb.record_failure(now=0); cb.allow(now=0)
    True
    >>> cb.record_failure(now=1); cb.state, cb.allow(now=5)
    ('open', False)
    >>> cb.allow(now=11), cb.state
    (True, 'half-open')
    >>> cb.record_success(); cb.state
    'closed'
    """

    threshold: int = 5
    reset_s: float = 5.0
    failures: int = 0
    opened_at: float | None = None
    state: str = "closed"

    def allow(self, now: float) -> bool:
        if self.state == "open" and self.opened_at is not None and now - self.opened_at >= self.reset_s:
            self.state = "half-open"
        return self.state != "open"

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.state = "closed"

    def record_failure(self, now: float) -> None:
        self.failures += 1
        if self.state == "half-open" or self.failures >= self.threshold:
            self.state = "open"
            self.opened_at = now

    def seconds_until_trial(self, now: float) -> float:
        if self.state != "open" or self.opened_at is None:
            return 0.0
        return max(0.0, self.reset_s - (now - self.opened_at))
