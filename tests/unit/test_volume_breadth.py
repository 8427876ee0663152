"""volume_breadth: a rise carried by many voices alerts; one carried by a thread of a few accounts, or the day's own
rhythm, does not."""

from __future__ import annotations

import json
import math
from collections import deque

import numpy as np

from core.domain import VOICE_WINDOW_MINUTES, MinuteStats
from stream.detectors.breadth import VolumeBreadthDetector

DAY = 1440
T0 = 1_767_571_200  # 2026-01-05 00:00 UTC, in seconds


def _rate(minute: int) -> float:
    """Events a minute with a steep daily cycle: 0.4 at night, 4.4 in the afternoon (11x; real mention counts
    have 3-4x), so a baseline that missed the hour of day would read every afternoon as a rise."""
    hour = (minute % DAY) / 60
    return 0.4 + 4.0 * max(0.0, math.sin(math.pi * (hour - 6) / 16)) ** 2


class _Feed:
    """Poisson counts at :func:`_rate`, every ordinary event by a new voice; ``extra`` adds events by ``voices_of``."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.window: deque[int] = deque(maxlen=VOICE_WINDOW_MINUTES)  # distinct voices added each minute

    def minute(self, minute: int, extra: int = 0, extra_voices: int = 0) -> MinuteStats:
        n = int(self.rng.poisson(_rate(minute)))
        self.window.append(n + extra_voices)
        return MinuteStats(n=n + extra, neutral=n + extra, voices=sum(self.window))


def _warm(detector: VolumeBreadthDetector, feed: _Feed, days: int) -> list[int]:
    alerts = []
    for m in range(days * DAY):
        if detector.observe(feed.minute(m), T0 + 60.0 * m).alert:
            alerts.append(m)
    return alerts


def test_a_steep_daily_cycle_is_not_news() -> None:
    detector, feed = VolumeBreadthDetector(), _Feed(1)
    assert _warm(detector, feed, 12) == []


def test_a_thread_stays_quiet_and_a_crowd_of_the_same_volume_alerts_within_ten_minutes() -> None:
    found: dict[str, list[int]] = {}
    for carried_by in ("thread", "crowd"):
        detector, feed = VolumeBreadthDetector(), _Feed(2)
        assert _warm(detector, feed, 10) == []
        start = 10 * DAY + 14 * 60
        found[carried_by] = []
        for m in range(start, start + 60):
            extra = int(4 * _rate(m)) if m < start + 20 else 0  # 5x for 20 minutes
            voices = extra if carried_by == "crowd" else (5 if m == start else 0)  # a thread: the same 5 accounts
            if detector.observe(feed.minute(m, extra, voices), T0 + 60.0 * m).alert:
                found[carried_by].append(m - start)
    assert found["thread"] == []
    assert found["crowd"] and found["crowd"][0] <= 10


def test_a_fresh_detector_alerts_only_once_it_has_watched_a_day() -> None:
    detector, feed = VolumeBreadthDetector(), _Feed(3)
    early = [m for m in range(600) if detector.observe(feed.minute(m, 40, 40), T0 + 60.0 * m).alert]
    assert early == []


def test_its_state_goes_through_json_mid_stream_and_resumes_the_same() -> None:
    detector, feed = VolumeBreadthDetector(), _Feed(4)
    _warm(detector, feed, 2)
    copy = VolumeBreadthDetector.from_state(json.loads(json.dumps(detector.to_state())))
    minutes = [feed.minute(m, 30, 30) for m in range(2 * DAY, 2 * DAY + 30)]
    ours = [detector.observe(s, T0 + 60.0 * (2 * DAY + i)) for i, s in enumerate(minutes)]
    theirs = [copy.observe(s, T0 + 60.0 * (2 * DAY + i)) for i, s in enumerate(minutes)]
    assert ours == theirs and any(s.alert for s in ours)
