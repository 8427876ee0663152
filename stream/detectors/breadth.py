"""A rise carried by many voices: an entity's distinct authors over a quarter of an hour, against the events that
quarter usually has.

Why volume alone does not tell an incident: on real Twitter mention counts (the fitted profile,
``localdev/traffic_profile.py``) an entity has about two ordinary bursts a day, with peaks of 3x to 36x and decays
of minutes to an hour. A rise of 5x held for 20 minutes is within what those bursts do, and a detector of "5x,
held" tried on such traffic raised 0.17 to 0.5 false alerts per entity-day while finding 45-90% of such incidents.
What tells them apart is who speaks. An ordinary burst is one thread: a post, its replies, a few accounts that
repeat or amplify it. An incident is news that many people talk about, each in their own words. So this detector
counts *voices* (an event's author, or its source where it names none: ``MinuteStats.voices``, a HyperLogLog in
Redis), not events: a thread of 200 posts by six accounts adds six voices; a crowd adds one per person.

The test, each closed minute: V, the distinct voices of the last :data:`~core.domain.VOICE_WINDOW_MINUTES`
minutes, against E, the events those minutes usually have at that hour of the day (the level and hour-of-day
profile of the series detector, the one ``volume_spike`` runs, bursts clipped). Distinct voices are never more
than events, so on ordinary traffic V is at most about E; an alert opens when V is at least :data:`BREADTH_RATIO`
times E (more than the entity's slow drifts of level, which the baseline follows hours late, ever make of it), at
least :data:`MIN_VOICES`, and as rare as ``volume_spike``'s alert level says: the Poisson chance of V or more at
mean E below once in ten days of the entity's minutes. The baseline learns from counts alone, so ``radar demo``
and a replay warm it on mention counts as they warm ``volume_spike``; it alerts only once it has watched a day of
minutes (every hour of the day seen once), since before that a morning's rise is a rhythm it has not learnt.
The episode is over once V falls under :data:`NORMAL_RATIO` times E. While V is that high and unlikely (under
1%, :data:`HOLD_DECADES`; after the first day, which teaches the rhythm) the baseline does not learn: the hour's
profile would learn a quarter of the rise each minute and double E within an incident. Held back for at most
:data:`MAX_HELD_MINUTES`, a broad rise that lasts longer is learnt as the entity's new normal.

What it cannot see: a broad rise slower than the baseline (it is learnt as the new normal), and a crowd that is
a bot farm (many invented authors read as many voices; Redis keeps each minute's HyperLogLog at 12 KiB however
many there are).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from core.domain import VOICE_WINDOW_MINUTES, DetectorName, MinuteStats
from stream.detectors.policy import AlertDecision, severity_for
from stream.detectors.series import SeriesDetector, alert_decades
from stream.detectors.signals import Signal, decades_to_z, poisson_tail_decades, z_to_score

__all__ = ["BREADTH_RATIO", "MIN_VOICES", "NORMAL_RATIO", "VolumeBreadthDetector"]

BREADTH_RATIO = 3.0  # voices at least this many times the window's usual events
NORMAL_RATIO = 1.5  # the episode is over under this many
MIN_VOICES = 10  # fewer people than this are not a crowd, however quiet the entity usually is
HOLD_DECADES = 2.0  # a rise is held back from learning once its Poisson chance is under 1%: noise seldom is
MAX_HELD_MINUTES = 60  # a broad rise longer than this is learnt: the entity has more people talking about it now


@dataclass
class VolumeBreadthDetector:
    """Many more people than usual speak of the entity within a quarter of an hour.

    >>> d = VolumeBreadthDetector()
    >>> for i in range(1500):  # a day of 4 events a minute, from about as many people
    ...     s = d.observe(MinuteStats(n=4, voices=55), 60.0 * i)
    >>> d.decide(s).fire
    False
    >>> thread = d.observe(MinuteStats(n=40, voices=62), 60.0 * 1500)  # a burst carried by a few accounts
    >>> crowd = d.observe(MinuteStats(n=40, voices=250), 60.0 * 1501)  # one carried by a crowd
    >>> d.decide(thread).fire, d.decide(crowd).fire
    (False, True)
    >>> from datetime import UTC; d.explain("ACME", crowd, datetime(2026, 1, 5, 10, 1, tzinfo=UTC))[:49]
    'ACME: 250 people in the 15 minutes to 10:01 UTC, '
    >>> VolumeBreadthDetector.from_state(d.to_state()) == d
    True
    """

    name: ClassVar[DetectorName] = DetectorName.VOLUME_BREADTH
    version: ClassVar[int] = 1
    counts_only: ClassVar[bool] = True  # its baseline learns from counts; voices only decide

    series: SeriesDetector = field(default_factory=SeriesDetector)
    usual: deque[float] = field(default_factory=lambda: deque(maxlen=VOICE_WINDOW_MINUTES))
    held: int = 0  # minutes of a broad rise not learnt

    @property
    def window_minutes(self) -> int:
        return VOICE_WINDOW_MINUTES

    def observe(self, stats: MinuteStats, at: float) -> Signal:
        # the same hour's usual, whichever view the series detector judges by: at one event a minute its hour-of-day
        # profile explains less than the Poisson noise does, so it keeps the plain level (the day's mean), which is
        # a third of an afternoon's volume on Twitter-like traffic
        hour = datetime.fromtimestamp(at, UTC).hour if math.isfinite(at) else 0
        self.usual.append(max(self.series.plain.level + self.series.profile.offset(hour), 0.0))
        expected = sum(self.usual)
        ready = self.series.n >= self.series.step.rows_per_step_day and len(self.usual) == VOICE_WINDOW_MINUTES
        # once the day's rhythm is learnt, a broad rise is not learnt while it lasts (the hour's profile would learn
        # a quarter of it a minute and double E within an incident), unless it outlasts MAX_HELD_MINUTES: then it is
        # the new normal
        decades = poisson_tail_decades(stats.voices, expected)
        elevated = ready and stats.voices >= NORMAL_RATIO * expected and decades >= HOLD_DECADES
        self.held = min(self.held + 1, MAX_HELD_MINUTES + 1) if elevated else 0
        if self.held == 0 or self.held > MAX_HELD_MINUTES:
            self.series.update(at, float(stats.n))
        alert = (
            ready
            and stats.voices >= max(MIN_VOICES, BREADTH_RATIO * expected)
            and decades >= alert_decades(self.series.step.rows_per_day, self.series.recurrence_days)
        )
        z = decades_to_z(decades)
        return Signal(z, z_to_score(z), float(stats.voices), expected, ready, alert)

    def decide(self, signal: Signal) -> AlertDecision:
        return AlertDecision(signal.alert, signal.observed >= NORMAL_RATIO * signal.expected, severity_for(signal.z))

    def explain(self, entity: str, signal: Signal, end: datetime) -> str:
        ratio = signal.observed / max(signal.expected, 0.1)
        return (
            f"{entity}: {signal.observed:.0f} people in the {VOICE_WINDOW_MINUTES} minutes to {end:%H:%M} UTC, "
            f"{ratio:.1f}x the {signal.expected:.0f} items such a quarter-hour usually has: a rise carried by many "
            "voices, not one thread"
        )

    def to_state(self) -> dict[str, Any]:
        return {"series": self.series.to_state(), "usual": list(self.usual), "held": self.held}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls(
            SeriesDetector.from_state(state["series"]),
            deque((float(x) for x in state["usual"]), maxlen=VOICE_WINDOW_MINUTES),
            int(state["held"]),
        )
