"""Properties of the detectors that must hold for any input (hypothesis)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.detect import EntityDetectors, observe_minute
from stream.detectors import MinuteStats, NegativeShare, RobustLevel, SentimentShift, VolumeSpike
from stream.detectors.offline import score_series

counts = st.integers(min_value=0, max_value=5000)


@st.composite
def minutes(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(min_value=0, max_value=300))
    negative = draw(st.integers(min_value=0, max_value=n))
    positive = draw(st.integers(min_value=0, max_value=n - negative))
    scores = draw(st.lists(st.floats(min_value=-1, max_value=1), min_size=n, max_size=n))
    return MinuteStats(n, negative, n - negative - positive, positive, sum(scores), sum(s * s for s in scores))


@given(st.lists(counts, min_size=1, max_size=300))
def test_offline_scores_are_probabilities(values: list[int]) -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    readings = score_series(values, [start + timedelta(minutes=i) for i in range(len(values))])
    assert len(readings) == len(values)
    assert all(0.0 <= r.score < 1.0 for r in readings)


@given(st.lists(minutes(), min_size=1, max_size=80))
@settings(max_examples=60, deadline=None)
def test_state_round_trips_through_json_mid_stream(stream: list[MinuteStats]) -> None:
    """A worker restarted from the stored state continues exactly as if it had never stopped."""
    straight, restarted = EntityDetectors(), EntityDetectors()
    cut = len(stream) // 2
    out_straight = [a.key for m, s in enumerate(stream) for a in observe_minute(straight, "X", m, s)]
    out_restarted = [a.key for m, s in enumerate(stream[:cut]) for a in observe_minute(restarted, "X", m, s)]
    restarted = EntityDetectors.from_state(json.loads(json.dumps(restarted.to_state())))
    out_restarted += [a.key for m, s in enumerate(stream[cut:], cut) for a in observe_minute(restarted, "X", m, s)]
    assert out_straight == out_restarted
    assert straight.to_state() == restarted.to_state()


@given(st.integers(min_value=0, max_value=2000), st.integers(min_value=30, max_value=200))
def test_a_constant_stream_never_alerts(rate: int, length: int) -> None:
    detectors = EntityDetectors()
    stats = MinuteStats(n=rate, neutral=rate, total=0.0, total_sq=0.0)
    assert [a for m in range(length) for a in observe_minute(detectors, "X", m, stats)] == []


@given(st.integers(min_value=1, max_value=200), st.integers(min_value=8, max_value=50))
@settings(max_examples=30, deadline=None)
def test_a_large_burst_after_a_calm_day_always_alerts(rate: int, multiplier: int) -> None:
    """A day of calm minutes: a burst far beyond anything the entity has done alerts at once, and scores high
    (p x sqrt(1440 looks) under 1e-2.5: the score weighs a rarity against the readings the series has had)."""
    detector = VolumeSpike()
    for i in range(1440):
        assert not detector.update(MinuteStats(n=rate + (i % 3)), 60.0 * i).alert
    burst = detector.update(MinuteStats(n=rate * multiplier + 20), 60.0 * 1440)
    assert burst.alert and burst.score > 0.7, burst


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=200))
def test_robust_level_stays_finite_and_within_the_data(values: list[float]) -> None:
    level = RobustLevel(alpha=0.1)
    for v in values:
        level.update(v)
    assert min(values) - 1e-6 <= level.level <= max(values) + 1e-6
    assert level.var >= 0


@given(st.lists(minutes(), min_size=1, max_size=50))
def test_windowed_detectors_give_probabilities(stream: list[MinuteStats]) -> None:
    for detector in (SentimentShift(warmup=3), NegativeShare(warmup=3)):
        for stats in stream:
            signal = detector.update(stats)
            assert 0.0 <= signal.score <= 1.0 and signal.z >= 0


@given(minutes(), minutes())
def test_minute_stats_add_up(a: MinuteStats, b: MinuteStats) -> None:
    total = a + b
    assert total.n == a.n + b.n == total.negative + total.neutral + total.positive
