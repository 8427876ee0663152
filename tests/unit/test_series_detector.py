"""The series detector's contract: causal, restartable, calibrated, one alert per episode, quiet on noise."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.detectors.offline import score_series
from stream.detectors.series import SeriesDetector

START = datetime(2026, 1, 5, tzinfo=UTC)


def stamps(n: int, step_s: float = 300.0) -> list[datetime]:
    return [START + timedelta(seconds=step_s * i) for i in range(n)]


def bursty_counts(n: int, seed: int) -> list[float]:
    """Overdispersed counts with a daily cycle (gamma-Poisson), like social volume."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    mean = 40 * (1 + 0.5 * np.sin(2 * np.pi * t / 288))
    return [float(v) for v in rng.poisson(mean * rng.gamma(4.0, 0.25, n))]


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=2, max_size=400), st.data())
@settings(max_examples=60, deadline=None)
def test_a_prefix_scores_exactly_as_the_first_rows_of_the_whole_run(values: list[float], data: st.DataObject) -> None:
    """Strictly causal: the score at a row depends only on that row and the ones before it."""
    cut = data.draw(st.integers(min_value=1, max_value=len(values)))
    whole = score_series(values, stamps(len(values)))
    assert score_series(values[:cut], stamps(cut)) == whole[:cut]
    assert all(0.0 <= r.score < 1.0 for r in whole)


def test_a_prefix_of_a_long_real_like_series_scores_the_same() -> None:
    values = bursty_counts(6000, seed=3)
    whole = score_series(values, stamps(6000))
    assert score_series(values[:4321], stamps(4321)) == whole[:4321]


@given(st.lists(st.floats(min_value=0, max_value=1e4), min_size=2, max_size=300), st.data())
@settings(max_examples=40, deadline=None)
def test_state_round_trips_through_json_mid_series(values: list[float], data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(values)))
    at = [60.0 * i for i in range(len(values))]
    straight, restarted = SeriesDetector(), SeriesDetector()
    expected = [straight.update(t, v) for t, v in zip(at, values, strict=True)]
    got = [restarted.update(t, v) for t, v in zip(at[:cut], values[:cut], strict=True)]
    restarted = SeriesDetector.from_state(json.loads(json.dumps(restarted.to_state())))
    got += [restarted.update(t, v) for t, v in zip(at[cut:], values[cut:], strict=True)]
    assert got == expected


def test_the_top_of_the_ranking_stays_ordered() -> None:
    """Bigger outliers after the same history get strictly higher scores, and none reaches 1."""
    history = bursty_counts(3000, seed=1)
    scores = []
    for size in (400, 800, 1600, 3200, 6400, 12800, 10**6, 10**12, 10**50):
        detector = SeriesDetector()
        for i, v in enumerate(history):
            detector.update(300.0 * i, v)
        scores.append(detector.update(300.0 * len(history), float(size)).score)
    assert scores == sorted(scores) and len(set(scores)) == len(scores)
    assert scores[-1] < 1.0


def test_a_burst_that_lasts_raises_one_alert() -> None:
    values = bursty_counts(3000, seed=2) + [600.0] * 24 + bursty_counts(600, seed=4)
    alerts = [i for i, r in enumerate(score_series(values, stamps(len(values)))) if r.alert]
    assert [i for i in alerts if 3000 <= i < 3024] == [3000]


def test_a_level_shift_becomes_the_new_normal() -> None:
    rng = np.random.default_rng(5)
    values = list(rng.normal(50, 2, 2000)) + list(rng.normal(80, 2, 3000))
    alerts = [i for i, r in enumerate(score_series(values, stamps(len(values)))) if r.alert]
    assert alerts and alerts[0] == 2000  # the shift itself alerts at once
    assert not [i for i in alerts if i > 2000 + 288]  # and is normal within a day of 5-minute rows


def test_ordinary_overdispersed_traffic_rarely_alerts() -> None:
    """The alert level means "rarer than once in ten days": noise alone stays near that, at any sampling step."""
    for step_s, days in ((60.0, 20), (300.0, 60), (3600.0, 365)):
        rows_a_day = int(86_400 / step_s)
        values = bursty_counts(rows_a_day * days, seed=9)
        readings = score_series(values, stamps(len(values), step_s))
        assert sum(r.alert for r in readings) / days <= 0.15, step_s


def test_non_finite_values_are_skipped_not_learnt() -> None:
    detector = SeriesDetector()
    for i in range(100):
        detector.update(60.0 * i, 10.0 + i % 3)
    before = detector.to_state()
    reading = detector.update(6000.0, float("nan"))
    assert reading.score == 0.0 and detector.to_state() == before


def test_a_lower_recurrence_alerts_more_often_on_ordinary_noise_and_about_as_its_days_say() -> None:
    """The alert level is a recurrence of the series itself: once in R days of ordinary noise, roughly."""
    values = bursty_counts(288 * 40, seed=5)  # 40 days of 5-minute rows, nothing but noise and its bursts
    alerts = {
        r: sum(x.alert for x in score_series(values, stamps(len(values)), recurrence_days=r)) for r in (0.5, 10.0)
    }
    assert alerts[0.5] > alerts[10.0]
    assert alerts[10.0] <= 12  # 40 days at once in 10: about 4, never a flood
    assert 10 <= alerts[0.5] <= 200  # once in half a day: about 80 over 40 days
