"""The seam every detector plugs into: one protocol, so that :mod:`stream.detect` runs any of them the same way.

A detector watches one entity's closed minutes. Each minute it *observes* the minute's stats (learning its
baseline and saying how unusual the minute is, a :class:`Signal`), *decides* on that signal (an alert opens; the
episode goes on; or the detector is normal, which counts towards resolving its open alerts), and, when an alert
opens, *explains* it in one sentence. Its state is small and JSON-able (``to_state`` / ``from_state``) so that
Redis keeps it between minutes; ``version`` says which layout ``to_state`` writes, so that a state written by
another release is learnt afresh rather than misread.

A new detector is one member of :class:`core.domain.DetectorName`, one class that satisfies :class:`Detector`,
one line in :mod:`stream.detectors.registry` and its tests; :mod:`stream.detect` does not change.

>>> from stream.detectors.builtin import VolumeSpikeDetector
>>> detector: Detector = VolumeSpikeDetector()
>>> detector.name.value, detector.window_minutes, detector.counts_only
('volume_spike', 1, True)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Protocol, Self

from core.domain import DetectorName, MinuteStats
from stream.detectors.policy import AlertDecision
from stream.detectors.signals import Signal

__all__ = ["Detector"]


class Detector(Protocol):
    """One anomaly test over an entity's closed minutes: pure (no I/O, no clock), O(1) state."""

    name: ClassVar[DetectorName]  # the wire name of the alerts it raises
    version: ClassVar[int]  # of the layout to_state writes
    counts_only: ClassVar[bool]  # it learns from counts alone (no labels): a replay may warm it on mention counts

    @property
    def window_minutes(self) -> int:
        """The closed minutes the last observed signal looked at: an alert's window ends at the minute's end."""
        ...

    def observe(self, stats: MinuteStats, at: float) -> Signal:
        """Learn one closed minute (``at``: its start, epoch seconds) and say how unusual it was."""
        ...

    def decide(self, signal: Signal) -> AlertDecision:
        """Whether an alert opens at this minute, and whether the detector is normal (the episode is over)."""
        ...

    def explain(self, entity: str, signal: Signal, end: datetime) -> str:
        """The alert's message: one sentence a person can act on (``end``: the end of the alert's window)."""
        ...

    def to_state(self) -> dict[str, Any]: ...

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self: ...
