"""How rare is this value *for this series*: a tail probability from the series' own history.

A z-score means different things on different series: a heavy-tailed Twitter volume throws z = 8 every other day,
a temperature sensor never. A threshold on z therefore cries wolf on one series and sleeps on another. So each
series keeps a histogram of the values a statistic has taken (fixed log-spaced bins: O(1) state, JSON-friendly),
and a new value is scored by the share of the past at least as extreme. Beyond the largest value ever seen the
share is extrapolated with a Pareto tail of exponent 2, about as heavy as real social volume's (the peaks of the
ordinary bursts in the realTweets series fall off with an exponent of 1.7): a value twice the largest ever seen
is 4 times rarer than it, not astronomically rarer, because on real traffic the next burst is often bigger than
the last (an exponential or Gaussian tail would call every new record an incident). The result is a
*log* probability, so the top of the ranking stays ordered however extreme the value, and nothing saturates.
Early on, with few observations, nothing can be very rare (the share is at least 1 / (n + 1) before the tail):
that is the warm-up, earned rather than configured.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TailCalibration"]

_LOW, _HIGH, _BINS = 0.05, 500.0, 96
EDGES = [_LOW * (_HIGH / _LOW) ** (i / _BINS) for i in range(_BINS + 1)]
TAIL_EXPONENT = 2.0


@dataclass
class TailCalibration:
    """Online log P(X >= x) against the series' own past values of a non-negative statistic.

    >>> cal = TailCalibration()
    >>> _ = [cal.observe(abs(math.sin(i)) * 2) for i in range(1000)]  # values up to 2
    >>> -1.5 < cal.observe(1.0) < -0.2  # an ordinary value: an ordinary share
    True
    >>> p4, p8, p80 = cal.log_probability(4.0), cal.log_probability(8.0), cal.log_probability(80.0)
    >>> p80 < p8 < p4 < math.log(0.1)  # beyond the past: ordered, and no probability is 0
    True
    >>> round((p4 - p8) / math.log(2), 6)  # twice as far out: 2^2 times rarer
    2.0
    """

    counts: list[float] = field(default_factory=lambda: [0.0] * (_BINS + 2))
    total: float = 0.0
    top: int = -1  # the highest bin that holds a count

    def log_probability(self, x: float) -> float:
        """ln P(X >= x) under the history, without learning x."""
        if self.top < 0:
            return 0.0
        b = bisect.bisect_left(EDGES, x)
        if b <= self.top:
            above = math.fsum(self.counts[b + 1 :]) + 0.5 * self.counts[b]
            return math.log(min(1.0, (above + 1) / (self.total + 1)))
        edge = EDGES[min(self.top, _BINS)]
        at_top = math.log(min(1.0, (self.counts[self.top] + 1) / (self.total + 1)))
        return at_top + TAIL_EXPONENT * math.log(edge / x)

    def learn(self, x: float) -> None:
        b = bisect.bisect_left(EDGES, x)
        self.counts[b] += 1
        self.total += 1
        self.top = max(self.top, b)

    def observe(self, x: float) -> float:
        """ln P(X >= x), then learn x."""
        log_p = self.log_probability(x)
        self.learn(x)
        return log_p

    def to_state(self) -> dict[str, Any]:
        return {"counts": list(self.counts), "total": self.total, "top": self.top}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TailCalibration:
        return cls(list(state["counts"]), state["total"], state["top"])
