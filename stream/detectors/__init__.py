"""Anomaly detectors: pure, small, O(1) state, serialisable (see STYLE.md). No I/O, no clock, no Redis.

Each plugs in through one protocol (:class:`Detector`) and one line of :data:`REGISTRY`."""

from stream.detectors.base import Detector
from stream.detectors.cusum import NegativeCusum
from stream.detectors.policy import AlertDecision, AlertPolicy, OpenAlerts
from stream.detectors.registry import REGISTRY
from stream.detectors.robust import RobustLevel
from stream.detectors.signals import MinuteStats, NegativeShare, SentimentShift, Signal, VolumeSpike

__all__ = [
    "REGISTRY",
    "AlertDecision",
    "AlertPolicy",
    "Detector",
    "MinuteStats",
    "NegativeCusum",
    "NegativeShare",
    "OpenAlerts",
    "RobustLevel",
    "SentimentShift",
    "Signal",
    "VolumeSpike",
]
