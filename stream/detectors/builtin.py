"""The three detectors the stream has run since issue 13, behind the :class:`~stream.detectors.base.Detector` seam.

Each pairs a signal of :mod:`stream.detectors.signals` with its alert rule and its message:

- volume spike: the series detector's own alert (one per episode); normal again once the count is back within
  :data:`VOLUME_NORMAL_Z` baseline scales of the usual (its baseline's clip);
- sentiment shift and negative surge: a 3-minute window test, turned into alerts by an
  :class:`~stream.detectors.policy.AlertPolicy` (warm-up, hysteresis, cooldown); normal once the policy's episode
  is over.

Their states are those a worker of the previous release stored, piece for piece (version 1), so that
:mod:`stream.detectors.legacy` can read such a state losslessly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Self

from core.domain import DetectorName, MinuteStats
from stream.detectors.policy import AlertDecision, AlertPolicy, severity_for
from stream.detectors.signals import NegativeShare, SentimentShift, Signal, VolumeSpike

__all__ = ["VOLUME_NORMAL_Z", "NegativeSurgeDetector", "SentimentShiftDetector", "VolumeSpikeDetector"]

VOLUME_NORMAL_Z = 3.0  # the volume is normal again within this many baseline scales (its baseline's clip)


def _clock(end: datetime) -> str:
    return end.strftime("%H:%M")


@dataclass
class VolumeSpikeDetector:
    """Unusually many events in a minute (:class:`~stream.detectors.signals.VolumeSpike`), alerted as ``radar
    detect`` alerts: the series detector's reading rarer than once in ten days of the entity, one per episode.

    >>> d = VolumeSpikeDetector()
    >>> signals = [d.observe(MinuteStats(n=5 + i % 3), 60.0 * i) for i in range(240)]
    >>> spike = d.observe(MinuteStats(n=60), 60.0 * 240)
    >>> d.decide(spike).fire, d.decide(signals[-1]).normal
    (True, True)
    >>> from datetime import UTC; d.explain("ACME", spike, datetime(2026, 1, 5, 10, 1, tzinfo=UTC))[:41]
    'ACME: 60 items in the minute to 10:01 UTC'
    """

    name: ClassVar[DetectorName] = DetectorName.VOLUME_SPIKE
    version: ClassVar[int] = 1
    counts_only: ClassVar[bool] = True

    signal: VolumeSpike = field(default_factory=VolumeSpike)

    @property
    def window_minutes(self) -> int:
        return 1

    def observe(self, stats: MinuteStats, at: float) -> Signal:
        return self.signal.update(stats, at)

    def decide(self, signal: Signal) -> AlertDecision:
        # the same rule as `radar detect`: the series detector's alert; normal once back near the usual
        return AlertDecision(signal.alert, signal.z >= VOLUME_NORMAL_Z, severity_for(signal.z))

    def explain(self, entity: str, signal: Signal, end: datetime) -> str:
        ratio = signal.observed / max(signal.expected, 0.1)
        return (
            f"{entity}: {signal.observed:.0f} items in the minute to {_clock(end)} UTC, "
            f"{ratio:.1f}x the usual {signal.expected:.1f}"
        )

    def to_state(self) -> dict[str, Any]:
        return self.signal.to_state()

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls(VolumeSpike.from_state(state))


@dataclass
class _WindowedDetector:
    """A 3-minute window signal turned into alerts by an :class:`~stream.detectors.policy.AlertPolicy`: what the
    sentiment shift and the negative surge share; each declares its ``signal`` and says its message."""

    version: ClassVar[int] = 1
    counts_only: ClassVar[bool] = False
    signal_type: ClassVar[Any]  # SentimentShift or NegativeShare: what from_state rebuilds
    signal: SentimentShift | NegativeShare  # each subclass declares it, with its own type and default

    policy: AlertPolicy = field(default_factory=AlertPolicy)

    @property
    def window_minutes(self) -> int:
        return self.signal.window

    def observe(self, stats: MinuteStats, at: float) -> Signal:
        return self.signal.update(stats)

    def decide(self, signal: Signal) -> AlertDecision:
        return self.policy.decide(signal)

    def to_state(self) -> dict[str, Any]:
        return {"signal": self.signal.to_state(), "policy": self.policy.to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls(signal=cls.signal_type.from_state(state["signal"]), policy=AlertPolicy.from_state(state["policy"]))


@dataclass
class SentimentShiftDetector(_WindowedDetector):
    """The mean sentiment of the last 3 minutes fell (:class:`~stream.detectors.signals.SentimentShift`).

    >>> d = SentimentShiftDetector()
    >>> calm = MinuteStats(n=10, negative=2, neutral=3, positive=5, total=3.0, total_sq=5.0)
    >>> angry = MinuteStats(n=10, negative=9, neutral=1, positive=0, total=-7.5, total_sq=6.5)
    >>> [d.decide(d.observe(s, 0.0)).fire for s in [calm] * 30 + [angry] * 2][-3:]
    [False, False, True]
    """

    name: ClassVar[DetectorName] = DetectorName.SENTIMENT_SHIFT
    signal_type = SentimentShift
    signal: SentimentShift = field(default_factory=SentimentShift)

    def explain(self, entity: str, signal: Signal, end: datetime) -> str:
        return (
            f"{entity}: mean sentiment {signal.observed:+.2f} over the {self.window_minutes} min to {_clock(end)} "
            f"UTC against a usual {signal.expected:+.2f}"
        )


@dataclass
class NegativeSurgeDetector(_WindowedDetector):
    """The share of negative events in the last 3 minutes rose (:class:`~stream.detectors.signals.NegativeShare`).

    >>> d = NegativeSurgeDetector()
    >>> calm, angry = MinuteStats(n=10, negative=2, neutral=8), MinuteStats(n=10, negative=8, neutral=2)
    >>> signals = [d.observe(s, 0.0) for s in [calm] * 30 + [angry] * 2]
    >>> d.decide(signals[-1]).fire
    True
    >>> from datetime import UTC; d.explain("ACME", signals[-1], datetime(2026, 1, 5, 10, 3, tzinfo=UTC))
    'ACME: 60% of items negative over the 3 min to 10:03 UTC against a usual 20%'
    """

    name: ClassVar[DetectorName] = DetectorName.NEGATIVE_SURGE
    signal_type = NegativeShare
    signal: NegativeShare = field(default_factory=NegativeShare)

    def explain(self, entity: str, signal: Signal, end: datetime) -> str:
        return (
            f"{entity}: {signal.observed:.0%} of items negative over the {self.window_minutes} min to {_clock(end)} "
            f"UTC against a usual {signal.expected:.0%}"
        )
