"""A sequential test of the negative share: a one-sided Bernoulli CUSUM, event by event, fed one closed minute at a
time.

Why: the 3-minute window test (``negative_surge``) cannot hold more than three minutes of evidence and waits for 8
events in them, so a quiet entity's surge is sure late or never, and a busy entity's onset minute is diluted by two
calm ones. A CUSUM adds up the evidence of every event since the statistic was last zero and alerts as soon as it
is enough: a minute with 300 events weighs a hundred times one with 3, and nothing waits for a window to fill.

The test: each event is negative with probability p0 (the entity's baseline share) against p1 (a surge), where p1
has an odds ratio (:attr:`~NegativeCusum.odds_ratios`) times the odds of p0. A minute with k negatives among n events
adds its log-likelihood ratio ``k ln(p1/p0) + (n - k) ln((1 - p1)/(1 - p0))`` to the statistic S, floored at 0
(Page's CUSUM); an alert opens when S reaches h. Two surges are tested side by side, each with its own S and h, and
either alerts: odds 6 (20% -> 60%, 40% -> 80%, 5% -> 24%) for the sharp surges of human-labelled incidents, and
odds 2.5 (20% -> 38%, 35% -> 57%) for the same incidents as a model reads them. A model's labels blur both sides (on
the demo's texts the served models read a 43% -> 93% incident as 35% -> 60%): at odds 6 a 60% surge from 35% adds
nothing on average (each negative's 0.71 nats and each other's -1.07 cancel), so that test never alerts on it, while
at odds 2.5 it adds 0.09 nats an event. A single mid ratio would slow the sharp surges; two tests cost ``ln 2``
nats of threshold each (the union bound below).

The threshold, from the false-alarm rate. On ordinary traffic e^S is a martingale while S is above zero (a minute's
likelihood ratio has mean 1 under p0), so an excursion of S from zero reaches h with probability at most e^-h
(Ville's inequality): false alarms in R = 10 days are at most the excursions in R days times e^-h, and
``h = ln(excursions in R days)`` keeps them under one; with two tests each gets ``ln(excursions in 2R days)``, so
that both together stay under one. An excursion starts at most once a minute, at a minute whose
ratio is above zero; with Poisson volume of ``rate`` events a minute that is at most ``exp(-rate (1 - B))`` of the
minutes (Chernoff at 1/2; B, the Bhattacharyya coefficient of p0 and p1, is the mean square root of an event's
ratio), which binds for busy entities. For quiet ones the events, not the minutes, are the chances: the average
run length of a CUSUM is about ``e^h / KL(p0 || p1)`` events (Siegmund's approximation, without the overshoot,
which makes it longer), so ``rate x KL`` chances a minute. h takes the smaller, and ``ln 2`` more because p0 is
estimated and an underestimated p0 shortens the run length (once in 20 days for a known p0). The rate is the
entity's own (an hour's exponentially weighted mean, empty minutes included, so that h follows the daily cycle).
At p0 = 20%, for the odds-6 test alone (with two tests, ``ln 2`` more): h = 9.2 at 1 event a minute, 9.9 at
4, 8.5 at 20; an event adds 1.10 if negative and takes 0.69
otherwise, so a surge to 85% (0.83 an event) is sure after 10 to 12 events, one to 60% (0.38) after 22 to 26.
Simulated on binomial traffic (0.3 to 100 events a minute, p0 5% to 40%, with and without a daily cycle) the
false alarms are 0 to 0.6 per 10 entity-days; the window test raises 1 to 10 per 10 entity-days on such
traffic at p0 = 20% (``tests/unit/test_negative_cusum.py`` runs both on the same streams). Real traffic is burstier
than Poisson and its texts come in clusters (replies, copies of one post), which adds excursions that neither bound
counts: ``bench.detect`` on real-like traffic is the check of the rate it promises.

The baseline share learns the minutes outside alerts, weighted by their events (a memory of
:attr:`~NegativeCusum.memory_events` events, at least :attr:`~NegativeCusum.memory_minutes` minutes of them), once
their verdict is in: the minutes while S is above zero (the window) are held back, and learnt together when S falls
back to zero (they were ordinary) or never, when S reaches h (they are the alert's evidence); a window held for
:data:`MAX_WINDOW_MINUTES` is learnt as it restarts, so that a lasting drift is learnt hour by hour. A window's
negatives are winsorised at 3 binomial standard deviations (and one event) above the baseline. Learnt minute by
minute, a young baseline (a fresh entity's, a mean of a few dozen events, of which one busy minute is a tenth)
would learn a surge's onset before its evidence is enough; only alert windows go unlearnt, which are rare, so the
baseline is not biased. Nothing is learnt during an episode (like ``negative_surge``): a surge never becomes its own
baseline.

The p0 tested (:attr:`~NegativeCusum.tested_share`) is the baseline plus one standard error of a mean of the events
learnt so far. Young, the baseline is such a mean, and its error is more than the ``ln 2`` margin covers: an
underestimate reads as a surge (the baseline does not move while an excursion is under way, so nothing damps it).
After a thousand events the two are within 0.016 of each other.

The episode: after the alert, each S is held at its h at most; the episode is over once every S has fallen to
h/2 (the events since favour p0 by e^(h/2) to one in each test: some ten calm minutes after a surge, where one test
took two; ended when one test is, the episode would restart the other while a 60% surge goes on, and alert
again), then the S
restart at 0 and the detector is normal. The alert's window is the minutes since an S last left zero (at most
:data:`MAX_WINDOW_MINUTES`), its ``observed`` the negative share of those minutes,
its ``z`` their binomial z against the baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

from core.domain import DetectorName, MinuteStats
from stream.detectors.policy import AlertDecision, severity_for
from stream.detectors.signals import Signal, z_to_score

__all__ = ["MAX_WINDOW_MINUTES", "NegativeCusum", "bernoulli_kl"]

MAX_WINDOW_MINUTES = 60  # an alert's window (evidence, observed share) covers at most the last hour
_MINUTES_A_DAY = 1440
_STATE = (
    "minutes",
    "events",
    "share",
    "rate",
    "cusums",
    "active",
    "fired",
    "run_minutes",
    "run_events",
    "run_negative",
)


def bernoulli_kl(p: float, q: float) -> float:
    """KL(p || q) of two Bernoulli laws, in nats: the mean log-likelihood ratio per event for p against q.

    >>> round(bernoulli_kl(0.25, 4 / 7), 4), bernoulli_kl(0.3, 0.3)
    (0.213, 0.0)
    """
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


@dataclass
class NegativeCusum:
    """The share of negative events rose: a one-sided Bernoulli CUSUM against the entity's baseline share.

    >>> d = NegativeCusum()
    >>> calm, angry = MinuteStats(n=4, negative=1, neutral=3), MinuteStats(n=40, negative=34, neutral=6)
    >>> [d.decide(d.observe(calm, 0.0)).fire for _ in range(60)].count(True)
    0
    >>> [round(d.threshold(r), 1) for r in d.odds_ratios], round(d.expected_share, 2)
    ([10.6, 10.0], 0.25)
    >>> s = d.observe(angry, 0.0); d.decide(s).fire, d.window_minutes, round(s.observed, 2)
    (True, 1, 0.85)
    >>> [d.decide(d.observe(calm, 0.0)).normal for _ in range(12)].index(True)  # h/2 of calm evidence in each test
    10
    >>> NegativeCusum.from_state(d.to_state()) == d
    True
    """

    name: ClassVar[DetectorName] = DetectorName.NEGATIVE_CUSUM
    version: ClassVar[int] = 2  # 1: one odds ratio, its S a number
    counts_only: ClassVar[bool] = False

    odds_ratios: tuple[float, ...] = (6.0, 2.5)  # the surges it is tuned to: p1's odds over p0's, one S each
    recurrence_days: float = 10.0  # false alarms rarer than once in this many days of the entity's events
    margin: float = math.log(2.0)  # nats over ln(chances): for the baseline being estimated
    young_z: float = 1.0  # p0 is tested this many standard errors (of the mean of the events learnt) above it
    memory_events: float = 1000.0
    memory_minutes: float = 60.0
    rate_minutes: float = 60.0  # the memory of the events-a-minute rate
    clip: float = 3.0  # binomial standard deviations (and one event) a window's negatives may teach above p0
    warmup_minutes: int = 20
    warmup_events: int = 50
    # state
    minutes: int = 0
    events: float = 0.0  # events the baseline has learnt
    share: float = 0.0  # the baseline negative share
    rate: float = 0.0  # events a minute
    cusums: list[float] = field(default_factory=list)  # S per odds ratio, in nats (empty: all zero)
    active: bool = False  # an episode is on (an alert opened and S has not fallen to h/2 since)
    fired: bool = False  # the last observed minute opened an alert
    run_minutes: int = 0  # the window: minutes since S last left zero (restarted after MAX_WINDOW_MINUTES)
    run_events: int = 0
    run_negative: int = 0

    @property
    def expected_share(self) -> float:
        """p0: the baseline share, kept off 0 and 1 so that every ratio is finite."""
        return min(max(self.share, 0.01), 0.95)

    @property
    def tested_share(self) -> float:
        """p0 as tested: the baseline share plus ``young_z`` standard errors of a mean of the events learnt so far
        (the module docstring says why)."""
        p = self.expected_share
        return min(p + self.young_z * math.sqrt(p * (1 - p) / max(self.events, 1.0)), 0.95)

    def surge_share(self, odds_ratio: float) -> float:
        """p1: the share whose odds are ``odds_ratio`` times the tested p0's."""
        odds = odds_ratio * self.tested_share / (1 - self.tested_share)
        return odds / (1 + odds)

    def threshold(self, odds_ratio: float) -> float:
        """h of the test against ``odds_ratio``, in nats: ``ln(chances in recurrence_days) + margin``, and the log
        of the number of ratios tested (a union bound: any of them alerts; the module docstring says why)."""
        p0, p1, rate = self.tested_share, self.surge_share(odds_ratio), max(self.rate, 0.01)
        bhattacharyya = math.sqrt(p0 * p1) + math.sqrt((1 - p0) * (1 - p1))
        chances_a_minute = min(rate * bernoulli_kl(p0, p1), math.exp(-rate * (1 - bhattacharyya)))
        days = self.recurrence_days * len(self.odds_ratios)
        return max(math.log(chances_a_minute * _MINUTES_A_DAY * days) + self.margin, 2.0)

    @property
    def evidence(self) -> float:
        """The largest S over its h: 1 is an alert's worth."""
        return max((s / self.threshold(r) for s, r in zip(self.cusums, self.odds_ratios, strict=False)), default=0.0)

    @property
    def window_minutes(self) -> int:
        return max(self.run_minutes, 1)

    def observe(self, stats: MinuteStats, at: float) -> Signal:
        n, k = stats.n, stats.negative
        p0 = self.tested_share
        tests = [(self.surge_share(r), self.threshold(r)) for r in self.odds_ratios]
        ready = self.minutes >= self.warmup_minutes and self.events >= self.warmup_events
        weight = max(1.0 / self.rate_minutes, 1.0 / (self.minutes + 1))
        self.rate += weight * (n - self.rate)
        self.minutes += 1
        self.fired = False
        if not ready:
            self._learn(n, k, clip=False)
            return Signal(0.0, 0.0, k / n if n else 0.0, self.expected_share, False)
        previous = self.cusums or [0.0] * len(tests)
        self.cusums = [
            max(0.0, s + k * math.log(p1 / p0) + (n - k) * math.log((1 - p1) / (1 - p0)))
            for s, (p1, _) in zip(previous, tests, strict=True)
        ]
        if self.active:
            self._tally(n, k)
        elif not self._pending:  # the window closed at zero: its minutes, and this one, were ordinary
            self._learn(self.run_events + n, self.run_negative + k, clip=True)
            self._tally(0, 0)
        else:
            if self.run_minutes >= MAX_WINDOW_MINUTES:  # an hour without a verdict: learnt as it leaves the window
                self._learn(self.run_events, self.run_negative, clip=True)
            self._tally(n, k)
            if any(s >= h for s, (_, h) in zip(self.cusums, tests, strict=True)):
                self.active = self.fired = True
        observed, z = self._window_share(self.expected_share)
        if self.active:
            self.cusums = [min(s, h) for s, (_, h) in zip(self.cusums, tests, strict=True)]
            if all(s <= h / 2 for s, (_, h) in zip(self.cusums, tests, strict=True)) and not self.fired:
                self.active, self.cusums = False, []
                self._tally(0, 0)
        return Signal(z, z_to_score(z), observed, self.expected_share, True, alert=self.fired)

    @property
    def _pending(self) -> bool:
        """Some S is above zero: the window's minutes await their verdict."""
        return any(s > 0.0 for s in self.cusums)

    def decide(self, signal: Signal) -> AlertDecision:
        return AlertDecision(signal.alert, self.active, severity_for(signal.z))

    def explain(self, entity: str, signal: Signal, end: datetime) -> str:
        return (
            f"{entity}: {signal.observed:.0%} of {self.run_events} items negative over the {self.window_minutes} min "
            f"to {end.strftime('%H:%M')} UTC against a usual {signal.expected:.0%} (sequential test)"
        )

    def _tally(self, n: int, k: int) -> None:
        """The window's counts: restarted when S is zero (nothing pending) or the window is an hour long."""
        if not self._pending or self.run_minutes >= MAX_WINDOW_MINUTES:
            self.run_minutes = self.run_events = self.run_negative = 0
        if self._pending:
            self.run_minutes, self.run_events, self.run_negative = (
                self.run_minutes + 1,
                self.run_events + n,
                self.run_negative + k,
            )

    def _window_share(self, p0: float) -> tuple[float, float]:
        """The window's negative share and its one-sided binomial z against p0."""
        if not self.run_events:
            return 0.0, 0.0
        share = self.run_negative / self.run_events
        return share, max((share - p0) / math.sqrt(p0 * (1 - p0) / self.run_events), 0.0)

    def _learn(self, n: int, k: int, *, clip: bool) -> None:
        if not n:
            return
        negatives = float(k)
        if clip:
            p0 = self.expected_share
            negatives = min(negatives, n * p0 + self.clip * math.sqrt(n * p0 * (1 - p0)) + 1.0)
        self.events += n
        memory = max(self.memory_events, self.rate * self.memory_minutes)
        weight = max(1.0 - math.exp(-n / memory), n / self.events)
        self.share += weight * (negatives / n - self.share)

    def to_state(self) -> dict[str, Any]:
        """What it has learnt (its settings are the code's: a new default applies to every entity at once)."""
        return {name: getattr(self, name) for name in _STATE}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        learnt: dict[str, Any] = {name: state[name] for name in _STATE}
        learnt["cusums"] = [float(s) for s in learnt["cusums"]]
        return cls(**learnt)
