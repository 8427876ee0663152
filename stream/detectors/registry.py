"""Which detectors the stream runs, in the order one minute's alerts are raised: one line each.

A detector here runs for every entity from its next closed minute on (its state starts empty; the others' states
are kept). One taken out stops: its open alerts resolve at the next closed minute, and its name stays in
:class:`core.domain.DetectorName` so that the alerts it raised still load.

>>> [name.value for name in REGISTRY]
['volume_spike', 'sentiment_shift', 'negative_surge', 'negative_cusum', 'volume_breadth']
>>> registry(VolumeSpikeDetector, VolumeSpikeDetector)
Traceback (most recent call last):
...
core.errors.ConfigError: two detectors are named volume_spike
"""

from __future__ import annotations

from collections.abc import Mapping

from core.domain import DetectorName
from core.errors import ConfigError
from stream.detectors.base import Detector
from stream.detectors.breadth import VolumeBreadthDetector
from stream.detectors.builtin import NegativeSurgeDetector, SentimentShiftDetector, VolumeSpikeDetector
from stream.detectors.cusum import NegativeCusum

__all__ = ["REGISTRY", "Registry", "registry"]

Registry = Mapping[DetectorName, type[Detector]]


def registry(*classes: type[Detector]) -> Registry:
    """Name -> detector class, in the order given."""
    found: dict[DetectorName, type[Detector]] = {}
    for cls in classes:
        if cls.name in found:
            raise ConfigError(f"two detectors are named {cls.name.value}")
        found[cls.name] = cls
    return found


REGISTRY: Registry = registry(
    VolumeSpikeDetector,
    SentimentShiftDetector,
    NegativeSurgeDetector,
    NegativeCusum,
    VolumeBreadthDetector,
)
