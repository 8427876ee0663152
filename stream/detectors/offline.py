"""The volume detector over an offline series (``timestamp,value`` rows): the code path ``radar detect`` uses
to score the detector on public benchmarks. It is the same :class:`VolumeSpike` the stream runs."""

from __future__ import annotations

from collections.abc import Iterable

from stream.detectors.signals import MinuteStats, VolumeSpike

__all__ = ["score_series"]


def score_series(values: Iterable[float], *, warmup: int = 20, alpha: float = 0.05) -> list[float]:
    """An anomaly score in [0, 1] per value (0 during warm-up).

    >>> scores = score_series([10, 12, 9, 11, 10, 13, 11, 9] * 6 + [80, 11, 10], warmup=10)
    >>> max(scores[:48]) < 0.2, scores[48] > 0.99, scores[49] < 0.2
    (True, True, True)
    """
    detector = VolumeSpike(warmup=warmup)
    detector.baseline.alpha = alpha
    return [detector.update(MinuteStats(n=max(round(v), 0))).score for v in values]
