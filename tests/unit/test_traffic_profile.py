"""The traffic profile the replay scenarios draw volume from: the shipped file, and a sampler that reproduces it.

Only the shipped JSON is used (no NAB data): long seeded samples are compared with the profile's own numbers.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from inference.dataset import Example
from localdev.scenarios import Incident, ScenarioSpec, generate
from localdev.traffic_profile import (
    DEFAULT_PROFILE,
    TrafficProfile,
    load_profile,
    sample_bursts,
    sample_noise,
    sample_traffic,
)
from stream.entities import Entity

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


@pytest.fixture(scope="module")
def profile() -> TrafficProfile:
    return load_profile()


def test_the_shipped_profile_loads_and_is_small(profile: TrafficProfile) -> None:
    assert DEFAULT_PROFILE.stat().st_size < 8_000
    assert len(profile.hourly) == 24 and len(profile.weekly) == 7
    assert np.mean(profile.hourly) == pytest.approx(1.0, abs=1e-3)
    assert np.mean(profile.weekly) == pytest.approx(1.0, abs=1e-3)
    assert 0.1 < profile.noise.sd < 1.0 and 0 <= profile.noise.slow_share <= 1
    assert 0 < profile.noise.fast_phi < profile.noise.slow_phi < 1
    assert profile.bursts.rate_per_day > 0 and profile.bursts.min_peak > 1 and profile.bursts.peak_alpha > 0
    raw = json.loads(DEFAULT_PROFILE.read_text())
    assert raw["bursts"]["observed"]["bursts"] > 0  # what the fit saw is kept beside the sampler's law


def test_daily_and_weekly_shapes_are_reproduced(profile: TrafficProfile) -> None:
    days = 280  # 40 weeks: the slow noise (busy or quiet for hours) averages out
    traffic = sample_traffic(profile, START, days * 1440, 20.0, np.random.default_rng(1), bursts=False)
    counts = np.random.default_rng(2).poisson(traffic.calm)
    minute = np.arange(days * 1440)
    hourly = np.array([counts[(minute // 60) % 24 == h].mean() for h in range(24)]) / counts.mean()
    weekly = np.array([counts[(minute // 1440) % 7 == d].mean() for d in range(7)]) / counts.mean()
    assert np.max(np.abs(hourly - np.array(profile.hourly))) < 0.1
    assert np.corrcoef(hourly, profile.hourly)[0, 1] > 0.99
    assert np.max(np.abs(weekly - np.array(profile.weekly))) < 0.1
    assert counts.mean() == pytest.approx(20.0, rel=0.05)  # the rate is the mean over a week


def test_dispersion_at_the_five_minute_scale_is_the_fitted_one(profile: TrafficProfile) -> None:
    minutes = 200 * 1440
    rng = np.random.default_rng(3)
    multiplier = sample_noise(profile, minutes, rng).reshape(-1, 5).mean(axis=1)
    log = np.log(multiplier)
    assert log.std() == pytest.approx(profile.noise.sd, rel=0.08)
    n = profile.noise
    lag1 = n.slow_share * n.slow_phi + (1 - n.slow_share) * n.fast_phi  # the fitted model's lag-one correlation
    assert np.corrcoef(log[:-1], log[1:])[0, 1] == pytest.approx(lag1, abs=0.04)
    # counts of 5 minutes at a mean of 50: negative binomial, var = m + k m^2 with k = exp(sd^2) - 1
    counts = rng.poisson(50 / 5 * np.repeat(multiplier, 5)).reshape(-1, 5).sum(axis=1)
    k = (counts.var() - counts.mean()) / counts.mean() ** 2
    assert k == pytest.approx(math.exp(profile.noise.sd**2) - 1, rel=0.2)
    assert counts.var() > 3 * counts.mean()  # overdispersed, not Poisson


def test_seeds_are_reproducible(profile: TrafficProfile) -> None:
    def draw(seed: int) -> np.ndarray:
        return sample_traffic(profile, START, 3 * 1440, 4.0, np.random.default_rng(seed)).expected

    assert np.array_equal(draw(5), draw(5))
    assert not np.array_equal(draw(5), draw(6))


def test_bursts_arrive_at_the_fitted_rate_and_decay(profile: TrafficProfile) -> None:
    days = 1000
    bursts = sample_bursts(profile, days * 1440, np.random.default_rng(4))
    assert len(bursts) / days == pytest.approx(profile.bursts.rate_per_day, rel=0.1)
    assert all(b.peak > profile.bursts.min_peak and b.end_min > b.start_min for b in bursts)
    minute = np.arange(days * 1440)
    b = bursts[0]
    boost = b.multiplier(minute)
    assert boost[b.start_min] == pytest.approx(b.peak) and boost[b.start_min - 1] == 1.0
    assert boost[math.ceil(b.end_min)] < profile.bursts.end_below <= boost[math.floor(b.end_min)]
    # the first 5 minutes average the drawn 5-minute peak, which is at least the burst threshold
    assert boost[b.start_min : b.start_min + 5].mean() >= profile.bursts.min_peak - 1e-9


def test_no_bursts_when_switched_off(profile: TrafficProfile) -> None:
    traffic = sample_traffic(profile, START, 30 * 1440, 4.0, np.random.default_rng(8), bursts=False)
    assert traffic.bursts == () and np.array_equal(traffic.expected, traffic.calm)


TEXTS = [
    Example(f"t{i}", domain, f"text {i}", rating, label)
    for i, (domain, rating, label) in enumerate(
        [
            ("tweets", 2.0, "positive"),
            ("tweets", -2.0, "negative"),
            ("nyt", 0.0, "neutral"),
            ("nyt", -1.5, "negative"),
            ("movie", 1.0, "positive"),
            ("amazon", -2.5, "negative"),
        ]
        * 5
    )
]
WATCHLIST = [Entity("ACME", ("Acme",), (), ("ACME",)), Entity("GLBX", ("Globex",)), Entity("INIT", ("Initech",))]


def test_the_scenario_ground_truth_lists_incidents_and_bursts() -> None:
    spec = ScenarioSpec("two-days", 2 * 1440, 2.0, (Incident("GLBX", 600, 30, 5, 0.8),))
    scenario = generate(spec, TEXTS, WATCHLIST, seed=3, start=START)
    truth = scenario.truth()
    assert [(i["entity"], i["start"]) for i in truth["incidents"]] == [("GLBX", "2026-01-05T10:00:00+00:00")]
    assert truth["incidents"][0]["events"] > 0
    assert truth["bursts"], "two days of three entities draw ordinary bursts"
    for burst in truth["bursts"]:
        assert burst["entity"] in {"ACME", "GLBX", "INIT"} and burst["start"] < burst["end"]
        assert burst["peak"] > 1 and burst["events"] >= 0
    burst_events = [e for e in scenario.events if e["meta"]["burst"]]
    assert sum(b["events"] for b in truth["bursts"]) <= len(burst_events)
    assert all(e["meta"]["incident"] is None for e in burst_events)
    again = generate(spec, TEXTS, WATCHLIST, seed=3, start=START)
    assert again.events == scenario.events and again.truth() == truth  # deterministic for a seed
    calm = generate(replace(spec, bursts=False), TEXTS, WATCHLIST, seed=3, start=START)
    assert calm.truth()["bursts"] == [] and not any(e["meta"]["burst"] for e in calm.events)
