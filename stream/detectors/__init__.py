"""Anomaly detectors: pure, small, O(1) state, serialisable (see STYLE.md). No I/O, no clock, no Redis."""

from stream.detectors.policy import AlertDecision, AlertPolicy, OpenAlerts
from stream.detectors.robust import RobustLevel
from stream.detectors.signals import MinuteStats, NegativeShare, SentimentShift, Signal, VolumeSpike

__all__ = [
    "AlertDecision",
    "AlertPolicy",
    "MinuteStats",
    "NegativeShare",
    "OpenAlerts",
    "RobustLevel",
    "SentimentShift",
    "Signal",
    "VolumeSpike",
]
