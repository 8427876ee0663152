"""A robust exponentially-weighted level and scale: the baseline every detector stands on.

An ordinary value moves the level and the scale as an EWMA would. An outlier (beyond ``clip`` scales) moves the
level by a quarter of that, clipped, and does not touch the scale at all: a burst that lasts twenty minutes stays
a burst for twenty minutes instead of teaching the detector that bursts are normal, while a lasting shift is
still learnt, slowly. The level follows slow changes (a daily rhythm) with a half-life of about ``0.69 / alpha``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RobustLevel"]


@dataclass
class RobustLevel:
    """Robust EW estimates of location and scale.

    >>> r = RobustLevel(alpha=0.1)
    >>> for x in [10, 11, 9, 10, 10, 11, 9, 10] * 5:
    ...     _ = r.update(x)
    >>> round(r.level, 1), r.scale < 1.5
    (10.0, True)
    >>> before = r.level; _ = r.update(1000)    # a spike barely moves it
    >>> round(r.level - before, 2) < 0.5
    True
    >>> RobustLevel.from_state(r.to_state()) == r
    True
    """

    alpha: float = 0.05
    clip: float = 3.0
    min_scale: float = 0.0  # the scale below which nothing counts as an outlier (e.g. Poisson noise)
    level: float = 0.0
    var: float = 0.0
    n: int = 0

    @property
    def scale(self) -> float:
        return math.sqrt(self.var)

    def residual(self, x: float, floor: float = 0.0) -> float:
        """Standardised residual of ``x`` against the current baseline (scale at least ``floor``)."""
        scale = max(self.scale, floor, 1e-9)
        return (x - self.level) / scale

    def update(self, x: float) -> float:
        """Learn ``x``; returns its residual as it was before learning."""
        if self.n == 0:
            self.level, self.var, self.n = x, 0.0, 1
            return 0.0
        r = x - self.level
        z = r / self.scale if self.scale > 0 else 0.0
        # warm-up: average plainly at first, then settle to the configured alpha
        a = max(self.alpha, 1.0 / (self.n + 1))
        bound = self.clip * max(self.scale, self.min_scale)
        if self.n > 5 and abs(r) > bound:
            self.level += 0.25 * a * math.copysign(bound, r)
        else:
            self.level += a * r
            self.var = (1 - a) * self.var + a * r * r
        self.n += 1
        return z

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RobustLevel:
        return cls(**state)
