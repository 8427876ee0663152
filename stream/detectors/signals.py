"""Three signals over closed per-minute buckets: volume spike, sentiment shift, negative-share surge.

Each ``update(stats) -> Signal`` learns one closed minute and says how unusual it was: ``z`` (one-sided, in
baseline scales), ``score`` in [0, 1], and the observed and expected values an analyst reads in the alert.

- Volume runs the series detector (:mod:`stream.detectors.series`, the one ``radar detect`` and the NAB benchmark
  run) on the count per minute: calibrated on the entity's own history, so ordinary bursts of social volume are
  not news; it alerts on a rise rarer than once in ten days of that entity.
- Sentiment shift compares the mean score of the last ``window`` minutes with the baseline mean, in standard
  errors of that window (so a minute with 3 events weighs less than one with 300).
- Negative share compares the share of negative events in the window with the baseline share: the exact binomial
  tail, as a z (:func:`binomial_surge_z`).
While a signal is high, its baseline learns only clipped values (robust estimator), so an incident that lasts
20 minutes stays unusual for its whole length.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, fields
from statistics import NormalDist
from typing import Any, Self

from core.domain import MinuteStats
from stream.detectors.series import SeriesDetector

__all__ = [
    "MinuteStats",
    "NegativeShare",
    "SentimentShift",
    "Signal",
    "VolumeSpike",
    "binomial_surge_z",
    "decades_to_z",
    "poisson_tail_decades",
    "z_to_score",
]


@dataclass(frozen=True)
class Signal:
    z: float
    score: float
    observed: float
    expected: float
    ready: bool
    alert: bool = False  # set by detectors that decide their own alerts (the volume detector's episodes)


def z_to_score(z: float, midpoint: float = 3.5, steepness: float = 1.5) -> float:
    """Map a one-sided z to [0, 1]: 0.5 at ``midpoint``, monotone, saturating (0.85 at z 4.7).

    >>> [round(z_to_score(z), 3) for z in (0, 2, 3.5, 4.7, 8)]
    [0.005, 0.095, 0.5, 0.858, 0.999]
    """
    return 1.0 / (1.0 + math.exp(-steepness * (z - midpoint)))


_NORMAL = NormalDist()


def binomial_surge_z(k: int, n: int, p: float) -> float:
    """How unusual ``k`` or more of ``n`` events are at a share ``p``: the exact binomial upper tail, as the z of a
    normal tail that small.

    Why exact: the normal approximation, ``(k/n - p) / sqrt(p(1-p)/n)``, overstates a rise of a few events
    against a small share. An entity whose feed is 3% negative, where the model misreads one calm text in thirty,
    sees 2 negatives among 10 now and then: z 3.2 by the approximation (an alert at 3.5 is one minute away),
    while P(X >= 2) is 3.5%, z 1.8 (scipy's ``binom.sf`` agrees to 1e-12). Below the expected count the normal z
    is returned (negative: no surge). The tail is summed from ``k`` upwards, where the terms shrink
    geometrically, until they stop counting.

    >>> round(binomial_surge_z(2, 10, 0.03), 2), round((0.2 - 0.03) / math.sqrt(0.03 * 0.97 / 10), 2)
    (1.82, 3.15)
    >>> round(binomial_surge_z(60, 100, 0.2), 2)  # P 2.5e-18, where the normal approximation says 10.0
    8.65
    >>> binomial_surge_z(500, 600, 0.02) > 37  # past what a double holds: the asymptote, still rising
    True
    >>> binomial_surge_z(1, 10, 0.5) < 0 < binomial_surge_z(9, 10, 0.5)
    True
    """
    if n <= 0:
        return 0.0
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    if k <= mean:
        return (k - mean) / sd
    log_first = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p)
    log_first += (n - k) * math.log1p(-p)
    total, term, odds = 1.0, 1.0, p / (1 - p)
    for j in range(k, n):
        term *= (n - j) / (j + 1) * odds
        total += term
        if term < 1e-12 * total:
            break
    log_tail = log_first + math.log(total)
    if log_tail < -700:  # beyond a double: the tail's asymptote, -log P ~ z^2 / 2
        return math.sqrt(-2 * log_tail)
    return -_NORMAL.inv_cdf(min(math.exp(log_tail), 0.5))


def poisson_tail_decades(k: int, mean: float) -> float:
    """-log10 P(X >= k) for a Poisson count of ``mean``: how rare ``k`` or more are (0 at or below the mean).

    The tail is summed from ``k`` upwards in logs, where the terms shrink at least geometrically, so a count far
    out (hundreds of voices where ten are usual) has its true rarity rather than an overflow.

    >>> [round(poisson_tail_decades(k, 2.0), 2) for k in (0, 2, 5, 10)]
    [0.0, 0.0, 1.28, 4.33]
    >>> round(poisson_tail_decades(300, 40.0), 1)  # scipy's poisson.logsf agrees; a double's smallest is 1e-308
    151.2
    """
    if k <= mean or k <= 0:
        return 0.0
    if mean <= 0:
        return math.inf
    log_term = k * math.log(mean) - mean - math.lgamma(k + 1)
    total, term, j = 1.0, 1.0, k
    while True:
        j += 1
        term *= mean / j
        total += term
        if term < 1e-12 * total:
            break
    return -(log_term + math.log(total)) / math.log(10)


def decades_to_z(decades: float) -> float:
    """The z of a one-sided normal tail as rare as 10^-decades (for severities and scores).

    >>> [round(decades_to_z(d), 2) for d in (0.0, 1.3, 4.0, 400.0)]
    [0.0, 1.64, 3.72, 42.92]
    """
    if decades <= math.log10(2):
        return 0.0
    if decades > 300:  # beyond a double: the tail's asymptote, -ln P ~ z^2 / 2
        return math.sqrt(2 * decades * math.log(10))
    return -_NORMAL.inv_cdf(10.0**-decades)


@dataclass
class VolumeSpike:
    """Unusually many events in a minute: the series detector (the one ``radar detect`` runs) on the count.

    The series detector scores both directions; an entity going quiet is not news to an analyst, so only a rise
    alerts here. Its readings are already gated to one alert per episode.

    >>> d = VolumeSpike()
    >>> signals = [d.update(MinuteStats(n=5 + i % 3), 60.0 * i) for i in range(240)]
    >>> any(s.alert for s in signals)
    False
    >>> spike = d.update(MinuteStats(n=60), 60.0 * 240); round(spike.observed), spike.alert
    (60, True)
    """

    series: SeriesDetector = field(default_factory=SeriesDetector)

    def update(self, stats: MinuteStats, at: float) -> Signal:
        reading = self.series.update(at, float(stats.n))
        rising = stats.n > reading.expected
        return Signal(
            max(reading.z, 0.0),
            reading.score if rising else 0.0,
            float(stats.n),
            max(reading.expected, 0.0),
            reading.ready,
            alert=reading.alert and rising,
        )

    def to_state(self) -> dict[str, Any]:
        return {"series": self.series.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> VolumeSpike:
        return cls(SeriesDetector.from_state(state.get("series", {})))


@dataclass
class _Windowed:
    """The last ``window`` minutes, summed."""

    window: int = 3
    warmup: int = 20
    min_events: int = 8
    recent: deque[MinuteStats] = field(default_factory=deque)

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
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}  # a field a former version stored (a baseline) is dropped
        values = {k: v for k, v in state.items() if k in names}
        values["recent"] = deque(MinuteStats(**s) for s in state["recent"])
        return cls(**values)


@dataclass
class _Weighted(_Windowed):
    """A baseline weighted by events, not by minutes: exponentially weighted sums of the per-minute totals.

    A minute with one event and a minute with fifty do not weigh the same, so quiet entities (whose minutes hold
    0 to 3 events, their shares mostly 0 or 1) get an unbiased baseline. A minute that stands out by more than
    ``gate`` standard errors, or falls in a window that does, does not teach the baseline: an incident stays
    unusual for its whole length. (Gating on the minute alone let an incident's first busy minutes, each only
    mildly unusual on its own, outweigh an hour of quiet ones and teach the baseline the incident.)
    """

    alpha: float = 0.03
    gate: float = 3.0
    ew_events: float = 0.0
    ew_value: float = 0.0  # negatives, or the sum of scores
    ew_value_sq: float = 0.0  # the sum of squared scores
    minutes: int = 0

    def _learn(self, stats: MinuteStats, value: float, value_sq: float, z_minute: float) -> None:
        if not stats.n:
            return
        if self.minutes < self.warmup or z_minute < self.gate:
            a = max(self.alpha, 1.0 / (self.minutes + 1))
            self.ew_events = (1 - a) * self.ew_events + a * stats.n
            self.ew_value = (1 - a) * self.ew_value + a * value
            self.ew_value_sq = (1 - a) * self.ew_value_sq + a * value_sq
        self.minutes += 1

    def _ready(self, window: MinuteStats) -> bool:
        return self.minutes >= self.warmup and window.n >= self.min_events


@dataclass
class SentimentShift(_Weighted):
    """The mean sentiment score dropped (a one-sided test on the window's mean, in standard errors).

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

    def update(self, stats: MinuteStats) -> Signal:
        window = self._push(stats)
        mean = self.ew_value / self.ew_events if self.ew_events else 0.0
        variance = max(self.ew_value_sq / self.ew_events - mean * mean, 0.05) if self.ew_events else 0.25
        sd = math.sqrt(variance)

        def z_of(w: MinuteStats) -> float:
            return (mean - w.total / w.n) / (sd / math.sqrt(w.n)) if w.n else 0.0

        observed = window.total / window.n if window.n else 0.0
        z = z_of(window)
        self._learn(stats, stats.total, stats.total_sq, max(z_of(stats), z))
        ready = self._ready(window)
        z = max(z, 0.0) if ready else 0.0
        return Signal(z, z_to_score(z) if ready else 0.0, observed, mean, ready)


@dataclass
class NegativeShare(_Weighted):
    """The share of negative events rose (the window against the baseline share: :func:`binomial_surge_z`).

    >>> d = NegativeShare(warmup=5)
    >>> _ = [d.update(MinuteStats(n=10, negative=2, neutral=3, positive=5)) for _ in range(30)]
    >>> s = [d.update(MinuteStats(n=10, negative=8, neutral=1, positive=1)) for _ in range(3)][-1]
    >>> s.score > 0.9, round(s.observed, 2), round(s.expected, 2)
    (True, 0.8, 0.2)
    >>> quiet = NegativeShare(warmup=5)  # one or two events a minute: the baseline must not sink to zero
    >>> _ = [quiet.update(MinuteStats(n=1 + i % 2, negative=1 if i % 3 == 0 else 0)) for i in range(60)]
    >>> round(quiet.update(MinuteStats()).expected, 2)  # 20 negatives among 90 events: 0.22
    0.22
    """

    def update(self, stats: MinuteStats) -> Signal:
        window = self._push(stats)
        p0 = min(max(self.ew_value / self.ew_events if self.ew_events else 0.0, 0.02), 0.98)

        def z_of(w: MinuteStats) -> float:
            return binomial_surge_z(w.negative, w.n, p0)

        share = window.negative / window.n if window.n else 0.0
        z = z_of(window)
        self._learn(stats, stats.negative, stats.negative, max(z_of(stats), z))
        ready = self._ready(window)
        z = max(z, 0.0) if ready else 0.0
        return Signal(z, z_to_score(z) if ready else 0.0, share, p0, ready)
