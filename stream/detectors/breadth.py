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
minutes, against E, the events those minutes usually have (:class:`SameHourBaseline`: the hour of the day's usual
count, learnt over days, scaled by how busy the entity has been over the last hours). Distinct voices are never
more than events, so on ordinary traffic V is at most about E; an alert opens when V is at least
:data:`BREADTH_RATIO` times E, at least :data:`MIN_VOICES`, and the Poisson chance of V or more at mean E is rarer
than once in ten days of minutes (``volume_spike``'s alert level). The baseline learns from counts alone, so
``radar demo`` and a replay warm it on mention counts as they warm ``volume_spike``; it alerts only once it has
watched a day (every hour of the day seen), since before that a morning's rise is a rhythm it has not learnt. The
episode is over once V falls under :data:`NORMAL_RATIO` times E; while it lasts the baseline does not learn (for
at most :data:`MAX_HELD_MINUTES`: a broad rise that lasts longer is learnt as the entity's new normal).

Why this baseline and not the series detector's: at one event a minute the series detector's hour-of-day view
explains less than the Poisson noise does, so it judges by its plain level, the day's mean, which is a third of
an afternoon's volume on Twitter-like traffic; and its hour profile learns a quarter of a rise each minute, which
doubles E within an incident. Here each minute's count is learnt winsorised at twice the usual, so a rise
moves the baseline by a few percent, and the recent level follows the profile's slow swings of an hour or more.

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
from stream.detectors.robust import half_life_alpha
from stream.detectors.series import RECURRENCE_DAYS, alert_decades
from stream.detectors.signals import Signal, decades_to_z, poisson_tail_decades, z_to_score

__all__ = ["BREADTH_RATIO", "MIN_VOICES", "NORMAL_RATIO", "SameHourBaseline", "VolumeBreadthDetector"]

BREADTH_RATIO = 3.0  # voices at least this many times the window's usual events
NORMAL_RATIO = 1.5  # the episode is over under this many
MIN_VOICES = 10  # fewer people than this are not a crowd, however quiet the entity usually is
MAX_HELD_MINUTES = 60  # a broad rise longer than this is learnt: the entity has more people talking about it now
MINUTES_A_DAY = 1440
WINSOR = 2.0  # a minute is learnt as at most this many times its usual count (and 3 events)


@dataclass
class SameHourBaseline:
    """The events a minute usually has at its hour of the day: each hour's EW mean count (a half-life of three days
    of that hour's minutes), times the ratio of the last two hours' counts to what those hours usually have (so a
    day busier than usual, or a slow swing of the entity's level, is followed within hours).

    >>> b = SameHourBaseline()
    >>> for m in range(2 * 1440):  # two days: 1 event a minute at night, 6 from 12:00 to 18:00
    ...     b.learn(m * 60.0, 6 if 12 <= (m // 60) % 24 < 18 else 1)
    >>> round(b.expected(3 * 1440 * 60.0 + 13 * 3600), 1), round(b.expected(3 * 1440 * 60.0 + 3 * 3600), 1)
    (6.0, 1.0)
    """

    hourly: list[float | None] = field(default_factory=lambda: [None] * 24)
    seen: list[int] = field(default_factory=lambda: [0] * 24)  # minutes learnt at each hour, up to a point
    recent: float = 0.0  # EW of the counts learnt
    recent_usual: float = 0.0  # EW of their hours' usual counts, the same weights
    n: int = 0

    hourly_alpha: ClassVar[float] = half_life_alpha(3 * 60)
    recent_alpha: ClassVar[float] = half_life_alpha(120)

    @staticmethod
    def _hour(at: float) -> int:
        return datetime.fromtimestamp(at, UTC).hour if math.isfinite(at) and abs(at) < 1e11 else 0

    def expected(self, at: float) -> float:
        usual = self.hourly[self._hour(at)]
        if usual is None:
            return 0.0
        scale = self.recent / self.recent_usual if self.recent_usual > 0 else 1.0
        return usual * min(max(scale, 0.25), 4.0)

    def learn(self, at: float, count: float) -> None:
        hour = self._hour(at)
        usual = self.hourly[hour]
        x = float(count) if usual is None else min(float(count), WINSOR * max(self.expected(at), usual) + 3.0)
        usual = usual or 0.0
        self.seen[hour] = min(self.seen[hour] + 1, 1000)  # a plain mean of its first minutes, then the EW mean
        self.hourly[hour] = usual + max(self.hourly_alpha, 1.0 / self.seen[hour]) * (x - usual)
        self.recent += self.recent_alpha * (x - self.recent)
        self.recent_usual += self.recent_alpha * (usual - self.recent_usual)
        self.n += 1

    @property
    def watched_a_day(self) -> bool:
        return self.n >= MINUTES_A_DAY and all(h is not None for h in self.hourly)

    def to_state(self) -> dict[str, Any]:
        return {
            "hourly": list(self.hourly),
            "seen": list(self.seen),
            "recent": self.recent,
            "recent_usual": self.recent_usual,
            "n": self.n,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        hourly = [None if h is None else float(h) for h in state["hourly"]]
        seen = [int(k) for k in state["seen"]]
        return cls(hourly, seen, float(state["recent"]), float(state["recent_usual"]), int(state["n"]))


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

    baseline: SameHourBaseline = field(default_factory=SameHourBaseline)
    usual: deque[float] = field(default_factory=lambda: deque(maxlen=VOICE_WINDOW_MINUTES))
    held: int = 0  # minutes of the episode not learnt; 0: no episode

    @property
    def window_minutes(self) -> int:
        return VOICE_WINDOW_MINUTES

    def observe(self, stats: MinuteStats, at: float) -> Signal:
        self.usual.append(self.baseline.expected(at))
        expected = sum(self.usual)
        ready = self.baseline.watched_a_day and len(self.usual) == VOICE_WINDOW_MINUTES
        decades = poisson_tail_decades(stats.voices, expected)
        alert = (
            ready
            and stats.voices >= max(MIN_VOICES, BREADTH_RATIO * expected)
            and decades >= alert_decades(MINUTES_A_DAY, RECURRENCE_DAYS)
        )
        if alert or (self.held and stats.voices >= NORMAL_RATIO * expected):
            self.held = min(self.held + 1, MAX_HELD_MINUTES + 1)
        else:
            self.held = 0
        if self.held == 0 or self.held > MAX_HELD_MINUTES:
            self.baseline.learn(at, float(stats.n))
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
        return {"baseline": self.baseline.to_state(), "usual": list(self.usual), "held": self.held}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls(
            SameHourBaseline.from_state(state["baseline"]),
            deque((float(x) for x in state["usual"]), maxlen=VOICE_WINDOW_MINUTES),
            int(state["held"]),
        )
