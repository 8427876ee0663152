"""A robust exponentially-weighted level and scale: the baseline every series view stands on.

An ordinary value moves the level and the scale as an EWMA would. An outlier (beyond ``clip`` scales) moves the
level by a quarter of its clipped size and the scale as if it had been ``clip`` scales away: a burst that lasts
twenty rows stays a burst for twenty rows instead of teaching the detector that bursts are normal, while a
lasting shift widens the scale step by step until it is learnt and becomes the new normal. The level follows slow
changes with a half-life of about ``0.69 / alpha`` rows; the first rows are averaged plainly (warm-up).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RobustLevel", "half_life_alpha"]


def half_life_alpha(rows: float) -> float:
    """The EW weight whose memory halves after ``rows`` rows.

    >>> round(half_life_alpha(1), 2), round(half_life_alpha(576), 5)
    (0.5, 0.0012)
    """
    return 1.0 - 0.5 ** (1.0 / rows)


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
    level: float = 0.0
    var: float = 0.0
    n: int = 0

    @property
    def scale(self) -> float:
        return math.sqrt(self.var)

    def update(self, x: float) -> float:
        """Learn ``x``; returns its signed residual in scales, as it was before learning.

        A series that has never moved has no scale; a change then is measured against a millionth of its level, so
        a value leaving a flat line is as unusual as it looks rather than invisible."""
        self.n += 1
        if self.n == 1:
            self.level, self.var = x, 0.0
            return 0.0
        scale, r = self.scale, x - self.level
        z = r / max(scale, 1e-6 * (abs(self.level) + 1.0))
        a = max(self.alpha, 1.0 / self.n)
        bound = self.clip * scale
        if self.n > 10 and abs(r) > bound:
            self.level += 0.25 * a * math.copysign(bound, r)
            self.var = (1 - a) * self.var + a * bound * bound
        else:
            self.level += a * r
            self.var = (1 - a) * self.var + a * r * r
        return z

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RobustLevel:
        return cls(**state)
