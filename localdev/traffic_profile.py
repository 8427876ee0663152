"""Per-entity volume drawn from a traffic profile fitted on real mention counts (``bench/fit_traffic_profile.py``).

Real social volume is not Poisson around a cosine: it is overdispersed, follows daily and weekly cycles, stays busy
(or quiet) for hours, and bursts several times a day for reasons that are not incidents. A detector tuned on
tidy Poisson traffic looks better than it is, so the replay scenarios draw each entity's volume from here:

    expected(t) = rate * daily(t) * weekly(t) * exp(x(t) - var / 2) * (1 + sum of burst excesses at t)
    count(t) ~ Poisson(expected(t))

- ``daily`` and ``weekly`` interpolate the profile's 24 hourly and 7 day-of-week multipliers (UTC, mean 1)
  linearly between hour and day centres, so the envelope has no steps;
- ``x`` is the sum of a slow and a fast AR(1) component (lognormal noise whose busy stretches last);
- a burst jumps to ``peak`` at its start and decays exponentially (time constant ``decay_min``); bursts arrive
  as a Poisson process at the fitted rate per day.

The profile was fitted on 5-minute bins and the stream's step is one minute, so the sampler converts: each AR(1)
component gets the per-minute coefficient whose 5-minute means correlate from one bin to the next as fitted, and
a per-minute variance raised so that 5-minute means keep the fitted variance (averaging five correlated minutes
removes some of it). A burst's peak is drawn over a 5-minute bin; the per-minute peak is set so that the first
five minutes of the exponential average it (the fitting script calibrates the burst law so that sampled bursts,
binned by 5 minutes, measure like the real ones). A 5-minute count of mean ``m`` is then five one-minute counts
of mean about ``m / 5`` each, with the fitted overdispersion at the 5-minute scale.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_PROFILE",
    "Burst",
    "BurstLaw",
    "Noise",
    "Traffic",
    "TrafficProfile",
    "envelope",
    "load_profile",
    "per_minute_ar1",
    "profile_from_dict",
    "sample_bursts",
    "sample_noise",
    "sample_traffic",
]

DEFAULT_PROFILE = Path(__file__).resolve().parents[1] / "deploy" / "traffic" / "realtweets_profile.json"
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday is 0)


@dataclass(frozen=True)
class Noise:
    """The lognormal multiplier at the profile's bin scale: total log-sd, split into a slow and a fast AR(1)."""

    sd: float
    slow_share: float
    slow_phi: float  # per bin
    fast_phi: float  # per bin


@dataclass(frozen=True)
class BurstLaw:
    """Ordinary (non-incident) bursts: Poisson arrivals, Pareto peaks over the bin, lognormal decay times."""

    rate_per_day: float
    min_peak: float
    peak_alpha: float
    max_peak: float
    decay_log_mean: float  # log of the decay time constant in minutes
    decay_log_sd: float
    end_below: float  # a burst is over when its multiplier falls below this


@dataclass(frozen=True)
class TrafficProfile:
    hourly: tuple[float, ...]  # 24 multipliers, hour of day UTC, mean 1
    weekly: tuple[float, ...]  # 7 multipliers, Monday first, mean 1
    noise: Noise
    bursts: BurstLaw
    bin_minutes: int = 5
    source: str = ""


@dataclass(frozen=True)
class Burst:
    """One ordinary burst, at the one-minute scale, placed ``start_min`` minutes into a sample.

    >>> b = Burst(start_min=10, peak=5.0, decay_min=4.0, end_below=1.5)
    >>> b.multiplier(np.array([9, 10, 14])).round(2).tolist(), round(b.end_min, 1)
    ([1.0, 5.0, 2.47], 18.3)
    """

    start_min: int
    peak: float  # the multiplier at its first minute
    decay_min: float
    end_below: float = 1.5

    @property
    def end_min(self) -> float:
        """When the multiplier falls below ``end_below`` (how long it reads as a burst)."""
        return self.start_min + self.decay_min * math.log(max(self.peak - 1, 1e-9) / (self.end_below - 1))

    def multiplier(self, minutes: np.ndarray) -> np.ndarray:
        after = minutes - self.start_min
        return np.where(after >= 0, 1 + (self.peak - 1) * np.exp(-np.maximum(after, 0) / self.decay_min), 1.0)


@dataclass(frozen=True)
class Traffic:
    """One entity's per-minute volume: the smooth envelope, the expected counts, and the bursts drawn."""

    envelope: np.ndarray  # rate * daily * weekly
    calm: np.ndarray  # envelope * noise (no bursts)
    expected: np.ndarray  # calm * bursts
    bursts: tuple[Burst, ...]


def load_profile(path: Path = DEFAULT_PROFILE) -> TrafficProfile:
    """The profile JSON written by ``bench/fit_traffic_profile.py``.

    >>> p = load_profile()
    >>> len(p.hourly), len(p.weekly), round(sum(p.hourly) / 24, 3), round(sum(p.weekly) / 7, 3)
    (24, 7, 1.0, 1.0)
    """
    return profile_from_dict(json.loads(Path(path).read_text()))


def profile_from_dict(raw: dict[str, Any]) -> TrafficProfile:
    """A profile from its JSON form (what the fitting script calibrates before it writes the file)."""
    noise, bursts = raw["noise"], raw["bursts"]
    return TrafficProfile(
        hourly=tuple(float(v) for v in raw["hourly"]),
        weekly=tuple(float(v) for v in raw["weekly"]),
        noise=Noise(float(noise["sd"]), float(noise["slow_share"]), float(noise["slow_phi"]), float(noise["fast_phi"])),
        bursts=BurstLaw(
            *(
                float(bursts[k])
                for k in (
                    "rate_per_day",
                    "min_peak",
                    "peak_alpha",
                    "max_peak",
                    "decay_log_mean",
                    "decay_log_sd",
                    "end_below",
                )
            )
        ),
        bin_minutes=int(raw.get("bin_minutes", 5)),
        source=str(raw.get("source", "")),
    )


def _cyclic(values: tuple[float, ...], position: np.ndarray) -> np.ndarray:
    """Linear interpolation through ``values`` placed at the centres of equal cells of a cycle (mean preserved)."""
    table = np.asarray(values)
    p = position - 0.5
    low = np.floor(p)
    frac = p - low
    i = low.astype(int) % len(table)
    return (1 - frac) * table[i] + frac * table[(i + 1) % len(table)]


def envelope(profile: TrafficProfile, start: datetime, minutes: int) -> np.ndarray:
    """Daily x weekly multiplier at the middle of each minute from ``start`` (timezone-aware).

    >>> from datetime import UTC
    >>> p = load_profile()
    >>> wednesday_5pm = envelope(p, datetime(2026, 1, 7, 17, tzinfo=UTC), 1)[0]
    >>> sunday_7am = envelope(p, datetime(2026, 1, 11, 7, tzinfo=UTC), 1)[0]
    >>> wednesday_5pm > 1.4 > 0.5 > sunday_7am
    True
    """
    hours = start.timestamp() / 3600 + (np.arange(minutes) + 0.5) / 60
    days = (hours / 24 + _EPOCH_WEEKDAY) % 7
    return _cyclic(profile.hourly, hours % 24) * _cyclic(profile.weekly, days)


def _bin_moments(phi: float, n: int) -> tuple[float, float]:
    """Variance of a bin mean, and its lag-one correlation, for a unit-variance per-minute AR(1)."""
    var = n + 2 * sum((n - k) * phi**k for k in range(1, n))
    cov = sum((d if d <= n else 2 * n - d) * phi**d for d in range(1, 2 * n))
    return var / n**2, cov / var


def per_minute_ar1(phi_bin: float, var_bin: float, bin_minutes: int = 5) -> tuple[float, float]:
    """An AR(1) fitted per bin, as a per-minute AR(1): (phi, variance).

    ``phi`` is chosen so that consecutive bin means correlate by ``phi_bin`` (bisection), and the variance is
    raised so that a bin mean keeps ``var_bin``: averaging correlated minutes removes some of it. A slow
    component hardly changes; a fast one gets a per-minute phi below ``phi_bin ** (1 / bin)``, which would
    overstate how much consecutive bins correlate.

    >>> [round(v, 4) for v in per_minute_ar1(0.41, 0.06)]
    [0.7445, 0.0907]
    >>> [round(v, 4) for v in per_minute_ar1(0.99, 0.08)]
    [0.997, 0.0804]
    """
    if phi_bin <= 0:
        return 0.0, var_bin * bin_minutes
    low, high = 0.0, 1.0 - 1e-12
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if _bin_moments(mid, bin_minutes)[1] < phi_bin else (low, mid)
    phi = (low + high) / 2
    return phi, var_bin / _bin_moments(phi, bin_minutes)[0]


def _ar1(phi: float, var: float, minutes: int, rng: np.random.Generator) -> np.ndarray:
    """A stationary AR(1) path (its first value drawn from the stationary law: no warm-up transient)."""
    shocks = rng.standard_normal(minutes) * math.sqrt(var * (1 - phi * phi))
    out = np.empty(minutes)
    x = rng.standard_normal() * math.sqrt(var)
    for i in range(minutes):
        x = phi * x + shocks[i] if i else x
        out[i] = x
    return out


def sample_noise(profile: TrafficProfile, minutes: int, rng: np.random.Generator) -> np.ndarray:
    """The lognormal multiplier per minute (mean 1): a slow plus a fast AR(1) on the log scale.

    >>> m = sample_noise(load_profile(), 20_000, np.random.default_rng(1))
    >>> bool(abs(m.mean() - 1) < 0.1), bool(m.min() > 0)
    (True, True)
    """
    n = profile.noise
    total = n.sd**2
    slow = per_minute_ar1(n.slow_phi, total * n.slow_share, profile.bin_minutes)
    fast = per_minute_ar1(n.fast_phi, total * (1 - n.slow_share), profile.bin_minutes)
    x = _ar1(*slow, minutes, rng) + _ar1(*fast, minutes, rng)
    return np.exp(x - (slow[1] + fast[1]) / 2)


def sample_bursts(profile: TrafficProfile, minutes: int, rng: np.random.Generator) -> tuple[Burst, ...]:
    """Ordinary bursts starting within ``minutes``, in time order, at the one-minute scale.

    >>> law = load_profile().bursts
    >>> bursts = sample_bursts(load_profile(), 100 * 1440, np.random.default_rng(3))
    >>> abs(len(bursts) / 100 - law.rate_per_day) < 0.5, all(b.peak > law.min_peak for b in bursts)
    (True, True)
    """
    law, bin_min = profile.bursts, profile.bin_minutes
    count = int(rng.poisson(law.rate_per_day * minutes / 1440))
    starts = np.sort(rng.integers(0, max(minutes, 1), size=count))
    bursts = []
    for start in starts:
        peak_bin = min(law.min_peak * float(rng.uniform()) ** (-1 / law.peak_alpha), law.max_peak)
        decay = math.exp(law.decay_log_mean + law.decay_log_sd * float(rng.standard_normal()))
        # the first bin's mean of 1 + (p - 1) exp(-t / decay) is the fitted peak over the bin
        peak = 1 + (peak_bin - 1) * (bin_min / decay) / (1 - math.exp(-bin_min / decay))
        bursts.append(Burst(int(start), peak, decay, law.end_below))
    return tuple(bursts)


def sample_traffic(
    profile: TrafficProfile,
    start: datetime,
    minutes: int,
    rate_per_min: float,
    rng: np.random.Generator,
    *,
    bursts: bool = True,
) -> Traffic:
    """One entity's expected counts per minute from ``start``: ``rate_per_min`` is the mean over a week, bursts aside.

    Draw the counts with ``rng.poisson(traffic.expected)``. The same generator state gives the same traffic.

    >>> from datetime import UTC
    >>> p, t0 = load_profile(), datetime(2026, 1, 5, tzinfo=UTC)
    >>> a = sample_traffic(p, t0, 600, 3.0, np.random.default_rng(7))
    >>> b = sample_traffic(p, t0, 600, 3.0, np.random.default_rng(7))
    >>> bool(np.array_equal(a.expected, b.expected)), a.expected.shape, bool((a.expected >= a.calm).all())
    (True, (600,), True)
    """
    base = rate_per_min * envelope(profile, start, minutes)
    calm = base * sample_noise(profile, minutes, rng)
    drawn = sample_bursts(profile, minutes, rng) if bursts else ()
    boost = np.ones(minutes)
    grid = np.arange(minutes)
    for burst in drawn:
        boost += burst.multiplier(grid) - 1
    return Traffic(base, calm, calm * boost, drawn)
