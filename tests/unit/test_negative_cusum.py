"""The sequential test of the negative share (``negative_cusum``) on seeded synthetic streams, against the 3-minute
window test (``negative_surge``) on the same streams: quiet on ordinary traffic, quick on a surge, and a state that
round-trips."""

from __future__ import annotations

import json
from statistics import median

import numpy as np
import pytest

from core.domain import MinuteStats
from stream.detectors.base import Detector
from stream.detectors.builtin import NegativeSurgeDetector
from stream.detectors.cusum import NegativeCusum

SHARE = 0.2  # the ordinary negative share
Stream = list[MinuteStats]


def _minutes(counts: np.ndarray, negatives: np.ndarray) -> Stream:
    pairs = zip(counts.tolist(), negatives.tolist(), strict=True)
    return [MinuteStats(n=n, negative=k, neutral=n - k) for n, k in pairs]


def ordinary(rate: float, days: int, seed: int) -> Stream:
    """Poisson volume around ``rate`` events a minute with a daily cycle (half as busy at night, half again by day),
    each event negative with probability :data:`SHARE`."""
    rng = np.random.default_rng(seed)
    minute = np.arange(days * 1440)
    counts = rng.poisson(rate * (1 + 0.5 * np.sin(2 * np.pi * minute / 1440)))
    return _minutes(counts, rng.binomial(counts, SHARE))


def surge(rate: float, share: float, multiplier: float, seed: int, calm: int = 180, length: int = 20) -> Stream:
    """``calm`` ordinary minutes at ``rate`` events a minute, then a surge: ``share`` negative at ``multiplier``
    times the volume."""
    rng = np.random.default_rng(seed)
    counts = np.concatenate([rng.poisson(rate, calm), rng.poisson(rate * multiplier, length)])
    shares = np.concatenate([np.full(calm, SHARE), np.full(length, share)])
    return _minutes(counts, rng.binomial(counts, shares))


def alerts(detector: Detector, stream: Stream) -> list[int]:
    """The minutes at which the detector opens an alert."""
    return [m for m, stats in enumerate(stream) if detector.decide(detector.observe(stats, 60.0 * m)).fire]


def delay(detector: Detector, stream: Stream, onset: int = 180) -> float:
    """Minutes from the surge's onset to the end of the minute whose close raised the first alert (1: the onset
    minute itself); infinite when none did."""
    return next((m - onset + 1 for m in alerts(detector, stream) if m >= onset), float("inf"))


@pytest.mark.parametrize("seed", [0, 1])
def test_ordinary_traffic_raises_at_most_one_alert_in_ten_entity_days(seed: int) -> None:
    """Ten days each of a quiet (1 a minute), an ordinary (4) and a busy (20) entity: at most one alert per ten
    entity-days, from the sequential test and from the window test alike (the window test ran at several per ten
    days while it read its window by the normal approximation, which overstates a few negatives)."""
    streams = [ordinary(rate, days=10, seed=10 * seed + i) for i, rate in enumerate((1, 4, 20))]
    sequential = sum(len(alerts(NegativeCusum(), stream)) for stream in streams)
    window = sum(len(alerts(NegativeSurgeDetector(), stream)) for stream in streams)
    assert sequential <= 3, f"{sequential} alerts in 30 ordinary entity-days"
    assert window <= 3, f"{window} alerts in 30 ordinary entity-days from the window test"


SURGES = [  # (usual events a minute, surge share, volume multiplier)
    (20, 0.85, 1),  # a busy entity turns negative at its usual volume
    (4, 0.85, 6),  # an ordinary entity's incident: six times the volume, mostly negative
    (20, 0.60, 1),
    (4, 0.60, 6),
]


def test_a_surge_is_alerted_within_one_or_two_minutes_and_sooner_than_by_the_window_test() -> None:
    runs = {(rate, share, x): [surge(rate, share, x, seed) for seed in range(10)] for rate, share, x in SURGES}
    sequential = {key: [delay(NegativeCusum(), s) for s in streams] for key, streams in runs.items()}
    window = {key: [delay(NegativeSurgeDetector(), s) for s in streams] for key, streams in runs.items()}
    for key in [(20, 0.85, 1), (4, 0.85, 6)]:  # at 85% negative: at the onset minute's close or the next one's
        assert max(sequential[key]) <= 2 and sum(sequential[key]) <= sum(window[key]), (key, sequential, window)
    for key in [(20, 0.60, 1), (4, 0.60, 6)]:  # at 60%: mostly within two minutes
        assert median(sequential[key]) <= 2, (key, sequential[key])
    # over all the runs it is ahead: the window test dilutes the onset minute with two calm ones (at 6x volume and
    # 60% it is at times a minute ahead instead: it accepts several times the false alarms)
    assert sum(map(sum, sequential.values())) < sum(map(sum, window.values())), (sequential, window)


def test_an_incident_as_a_model_reads_it_is_caught_where_the_sharp_test_alone_misses() -> None:
    """The demo's incidents as the served models read them: 35% negative turning 60% (human labels: 43% -> 93%) at
    six times the volume of an entity of two events a minute. The odds-6 test alone gains nothing on average on
    such a surge and misses about a third; with the odds-2.5 test beside it nearly every run alerts, and the
    ordinary minutes before raise nothing."""
    both, sharp, early = 0, 0, 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        counts = np.concatenate([rng.poisson(2, 180), rng.poisson(12, 20)])
        stream = _minutes(counts, rng.binomial(counts, np.repeat([0.35, 0.60], [180, 20])))
        fired = alerts(NegativeCusum(), stream)
        both += any(m >= 180 for m in fired)
        early += sum(m < 180 for m in fired)
        sharp += any(m >= 180 for m in alerts(NegativeCusum(odds_ratios=(6.0,)), stream))
    assert both >= 18 and sharp <= 15 and early == 0, (both, sharp, early)


def test_a_quiet_entity_s_surge_at_its_usual_volume_is_caught_where_the_window_starves() -> None:
    """Two events a minute turning 85% negative: the window seldom holds the 8 events its test needs; the
    sequential test adds up every event and catches each run, its slowest no later than the window's slowest."""
    streams = [surge(2, 0.85, 1, seed) for seed in range(10)]
    sequential = [delay(NegativeCusum(), s) for s in streams]
    window = [delay(NegativeSurgeDetector(), s) for s in streams]
    assert max(sequential) <= 20 and max(sequential) <= max(window), (sequential, window)


def test_a_minute_weighs_by_its_events() -> None:
    """The same share in a minute of 3 events and one of 300: only the big one is evidence enough."""
    learnt = NegativeCusum()
    for _ in range(240):
        learnt.observe(MinuteStats(n=5, negative=1, neutral=4), 0.0)
    few, many = (NegativeCusum.from_state(learnt.to_state()) for _ in range(2))
    small = few.observe(MinuteStats(n=3, negative=2, neutral=1), 0.0)
    big = many.observe(MinuteStats(n=300, negative=200, neutral=100), 0.0)
    assert not few.decide(small).fire and many.decide(big).fire
    assert 0 < few.evidence < 0.2, "three events are a little evidence, not nothing"


def test_the_baseline_does_not_learn_the_surge() -> None:
    detector = NegativeCusum()
    stream = surge(4, 0.85, 6, seed=3, length=60)
    alerts(detector, stream[:180])
    before = detector.expected_share
    alerts(detector, stream[180:])
    assert abs(detector.expected_share - before) < 0.01, (before, detector.expected_share)


def test_a_restarted_detector_goes_on_as_if_it_never_stopped() -> None:
    stream = surge(4, 0.85, 6, seed=5, length=40)
    straight = alerts(NegativeCusum(), stream)
    for cut in (100, 181, 185, 200):
        first = NegativeCusum()
        fired = alerts(first, stream[:cut])
        restored = NegativeCusum.from_state(json.loads(json.dumps(first.to_state())))
        assert restored == first
        fired += [cut + m for m in alerts(restored, stream[cut:])]
        assert fired == straight, cut


def test_a_young_baseline_does_not_learn_a_surge_s_onset_before_its_verdict() -> None:
    """A fresh detector of a quiet entity whose texts are half negative (the demo's Chinese entity at a quiet hour:
    1.5 events a minute, 53%) meets a surge 40 minutes into its life, 85% negative at six times the volume. Its
    baseline, a mean of some sixty events, holds the surge's minutes back until their verdict, so it mostly alerts
    (learning each minute at once, it caught 37 of these 50) and has not learnt the surge by its end."""
    caught, shares = 0, []
    for seed in range(50):
        rng = np.random.default_rng(seed)
        counts = np.concatenate([rng.poisson(1.5, 40), rng.poisson(9, 20)])
        stream = _minutes(counts, rng.binomial(counts, np.repeat([0.53, 0.85], [40, 20])))
        detector = NegativeCusum()
        caught += any(m >= 40 for m in alerts(detector, stream))
        shares.append(detector.expected_share)
    assert caught >= 42, caught
    assert median(shares) < 0.6, median(shares)
