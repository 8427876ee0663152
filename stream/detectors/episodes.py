"""One alert per episode: while an unusual stretch lasts, only a reading markedly rarer than before speaks again.

Real series do not misbehave for one row: a burst of mentions, a failing machine or a jammed road stays unusual
for a while, and an analyst wants one alert for it, not one a row. Rarity is measured in decades (-log10 p). An
episode opens at the first unusual reading (at least ``opens_at`` decades) and closes after ``quiet_rows``
readings in a row below it. Inside an episode a reading keeps its rarity only when it is ``margin`` decades rarer
than the last one that spoke (the incident got clearly worse, which is news); every other reading gets 0. Over any
threshold this leaves at most a few detections an episode, the first as early as that threshold allows.

Alerts follow the same rule at the alert level: the first reading of an episode that reaches it alerts, even if the
episode was opened by a milder one, and a later one only when it is ``margin`` decades rarer than the last alert.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Episode"]


@dataclass
class Episode:
    """Gate rarities (decades) so that an episode speaks once, and again only when it gets much worse.

    >>> e = Episode(opens_at=1.0, quiet_rows=2, margin=1.0)
    >>> [e.gate(d) for d in (0.5, 1.5, 2.0, 2.6, 0.2, 0.3, 0.1, 1.2)]
    [0.5, 1.5, 0.0, 2.6, 0.0, 0.0, 0.1, 1.2]
    >>> e = Episode(opens_at=1.0, quiet_rows=2, margin=1.0)
    >>> [(e.gate(d), e.alerts(d, level=3.0))[1] for d in (2.9, 3.2, 3.9, 4.5, 0.1, 0.1, 3.1)]
    [False, True, False, True, False, False, True]
    """

    opens_at: float = 1.7  # p <= 0.02
    quiet_rows: int = 24
    margin: float = 0.5
    active: bool = False
    peak: float = 0.0  # the rarity that spoke last in this episode
    quiet: int = 0
    alerted: float | None = None  # the rarity of this episode's last alert

    def gate(self, decades: float) -> float:
        if not self.active:
            if decades >= self.opens_at:
                self.active, self.peak, self.quiet, self.alerted = True, decades, 0, None
            return decades
        emitted = 0.0
        if decades > self.peak + self.margin:
            self.peak = emitted = decades
        self.quiet = self.quiet + 1 if decades < self.opens_at else 0
        if self.quiet >= self.quiet_rows:
            self.active, self.alerted = False, None
        return emitted

    def alerts(self, decades: float, *, level: float) -> bool:
        """After :meth:`gate`: does this reading alert? (its episode's first at ``level``, or a much rarer one)"""
        if decades < level or (self.alerted is not None and decades <= self.alerted + self.margin):
            return False
        self.alerted = decades
        return True

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Episode:
        return cls(**state)
