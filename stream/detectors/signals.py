"""Three signals over closed per-minute buckets: volume spike, sentiment shift, negative-share surge.

Each ``update(stats) -> Signal`` learns one closed minute and says how unusual it was: ``z`` (one-sided, in
baseline scales), ``score`` in [0, 1], and the observed and expected values an analyst reads in the alert.

- Volume works on the Anscombe transform 2*sqrt(count + 3/8), where Poisson noise has unit variance whatever the
  rate; that unit is the floor of the scale, so quiet entities (2 events a minute) are not alarmed by ordinary
  noise, and the robust scale takes over for bursty, overdispersed volume (social-media traffic).
- Sentiment shift compares the mean score of the last ``window`` minutes with the baseline mean, in standard
  errors of that window (so a minute with 3 events weighs less than one with 300).
- Negative share compares the share of negative events in the window with the baseline share (binomial z).
While a signal is high, its baseline learns only clipped values (robust estimator), so an incident that lasts
20 minutes stays unusual for its whole length.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any, Self

from stream.detectors.robust import RobustLevel

__all__ = ["MinuteStats", "NegativeShare", "SentimentShift", "Signal", "VolumeSpike", "anscombe", "z_to_score"]


@dataclass(frozen=True)
class MinuteStats:
    """One closed bucket: counts per label and the sum and sum of squares of the signed score."""

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
class Signal:
    z: float
    score: float
    observed: float
    expected: float
    ready: bool


def z_to_score(z: float, midpoint: float = 3.5, steepness: float = 1.5) -> float:
    """Map a one-sided z to [0, 1]: 0.5 at ``midpoint``, monotone, saturating (0.85 at z 4.7).

    >>> [round(z_to_score(z), 3) for z in (0, 2, 3.5, 4.7, 8)]
    [0.005, 0.095, 0.5, 0.858, 0.999]
    """
    return 1.0 / (1.0 + math.exp(-steepness * (z - midpoint)))


def anscombe(count: float) -> float:
    """Variance-stabilising transform of a Poisson count (unit variance at any rate).

    >>> round(anscombe(0), 3), round(anscombe(100), 3)
    (1.225, 20.037)
    """
    return 2.0 * math.sqrt(max(count, 0.0) + 0.375)


@dataclass
class VolumeSpike:
    """Unusually many events per minute.

    >>> d = VolumeSpike(warmup=10)
    >>> signals = [d.update(MinuteStats(n=5 + i % 3)) for i in range(60)]
    >>> max(s.score for s in signals[10:]) < 0.3
    True
    >>> spike = d.update(MinuteStats(n=40)); round(spike.observed), spike.score > 0.9
    (40, True)
    """

    warmup: int = 20
    baseline: RobustLevel = field(default_factory=lambda: RobustLevel(alpha=0.05, min_scale=1.0))

    def update(self, stats: MinuteStats) -> Signal:
        y = anscombe(stats.n)
        mean = max((self.baseline.level / 2) ** 2 - 0.375, 0.0)
        z = self.baseline.residual(y, floor=1.0) if self.baseline.n else 0.0
        ready = self.baseline.n >= self.warmup
        self.baseline.update(y)
        z = max(z, 0.0)
        return Signal(z, z_to_score(z) if ready else 0.0, float(stats.n), mean, ready)

    def to_state(self) -> dict[str, Any]:
        return {"warmup": self.warmup, "baseline": self.baseline.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VolumeSpike:
        return cls(warmup=state["warmup"], baseline=RobustLevel.from_state(state["baseline"]))


@dataclass
class _Windowed:
    """The last ``window`` minutes summed, plus a robust baseline of per-minute values."""

    window: int = 3
    warmup: int = 20
    min_events: int = 8
    recent: deque[MinuteStats] = field(default_factory=deque)
    baseline: RobustLevel = field(default_factory=lambda: RobustLevel(alpha=0.03))

    def _push(self, stats: MinuteStats) -> MinuteStats:
        self.recent.append(stats)
        while len(self.recent) > self.window:
            self.recent.popleft()
        total = MinuteStats()
        for item in self.recent:
            total = total + item
        return total

    def to_state(self) -> dict[str, Any]:
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["recent"] = [vars(s) for s in self.recent]
        state["baseline"] = self.baseline.to_state()
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        values = dict(state)
        values["recent"] = deque(MinuteStats(**s) for s in state["recent"])
        values["baseline"] = RobustLevel.from_state(state["baseline"])
        return cls(**values)


@dataclass
class SentimentShift(_Windowed):
    """The mean sentiment score dropped (a one-sided test on the window's mean).

    >>> d = SentimentShift(warmup=5)
    >>> calm = MinuteStats(n=10, negative=2, neutral=3, positive=5, total=3.0, total_sq=5.0)
    >>> _ = [d.update(calm) for _ in range(30)]
    >>> angry = MinuteStats(n=10, negative=9, neutral=1, positive=0, total=-7.5, total_sq=6.5)
    >>> s = [d.update(angry) for _ in range(3)][-1]
    >>> s.score > 0.9, s.observed < 0 < s.expected
    (True, True)
    >>> SentimentShift.from_state(d.to_state()) == d
    True
    """

    event_var: float = 0.25  # EW variance of single events' scores, for the window's standard error

    def update(self, stats: MinuteStats) -> Signal:
        window = self._push(stats)
        ready = self.baseline.n >= self.warmup and window.n >= self.min_events
        mean = window.total / window.n if window.n else 0.0
        spread = math.sqrt(self.baseline.var + self.event_var)
        z = (self.baseline.level - mean) / (spread / math.sqrt(window.n)) if window.n else 0.0
        if stats.n:
            minute_mean = stats.total / stats.n
            self.baseline.update(minute_mean)
            self.event_var = 0.9 * self.event_var + 0.1 * max(stats.total_sq / stats.n - minute_mean**2, 0.0)
        z = max(z, 0.0) if ready else 0.0
        return Signal(z, z_to_score(z) if ready else 0.0, mean, self.baseline.level, ready)


@dataclass
class NegativeShare(_Windowed):
    """The share of negative events rose (binomial z of the window against the baseline share).

    >>> d = NegativeShare(warmup=5)
    >>> _ = [d.update(MinuteStats(n=10, negative=2, neutral=3, positive=5)) for _ in range(30)]
    >>> s = [d.update(MinuteStats(n=10, negative=8, neutral=1, positive=1)) for _ in range(3)][-1]
    >>> s.score > 0.9, round(s.observed, 2), round(s.expected, 2)
    (True, 0.8, 0.2)
    """

    def update(self, stats: MinuteStats) -> Signal:
        window = self._push(stats)
        ready = self.baseline.n >= self.warmup and window.n >= self.min_events
        share = window.negative / window.n if window.n else 0.0
        p0 = min(max(self.baseline.level, 0.02), 0.98)
        z = (share - p0) / math.sqrt(p0 * (1 - p0) / window.n) if window.n else 0.0
        if stats.n:
            self.baseline.update(stats.negative / stats.n)
        z = max(z, 0.0) if ready else 0.0
        return Signal(z, z_to_score(z) if ready else 0.0, share, p0, ready)
