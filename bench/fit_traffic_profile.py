"""Fit the replay scenarios' traffic profile from real Twitter mention volumes (NAB realTweets).

    uv run python -m bench.fit_traffic_profile [--data DIR] [--out deploy/traffic/realtweets_profile.json]

Poisson arrivals under a cosine are too tidy to test detectors against: real mention volume is overdispersed,
has daily and weekly cycles, busy stretches that last hours, and bursts that are not incidents. This script fits
those properties from the 5-minute mention counts of AAPL, AMZN, CRM, CVS and FB (``<data>/data/realTweets/``) and
writes them as a small JSON profile that :mod:`localdev.traffic_profile` samples. Only the fitted numbers are
written; the series stay where they are.

The model, per series, 5-minute bins: ``count ~ Poisson(level * daily(hour) * weekly(day) * exp(x) * burst)``.

1. **Envelope**: each series is divided by its own level (their scales differ a hundredfold), then the pooled
   series gives 24 hourly and 7 day-of-week multipliers (UTC, each with mean 1), fitted jointly by alternating
   means. Labelled anomaly windows (``labels/combined_windows.json``) and ordinary bursts are left out.
2. **Noise** ``x``: a lognormal multiplier, the sum of a fast and a slow AR(1) component (busy stretches last
   hours). Its variance is the robust (MAD) variance of ``log(count / envelope)`` less the Poisson part; its
   autocorrelation is measured up to two days and fitted by the two components up to 12 hours (beyond, it echoes
   each series' own daily shape, which the pooled envelope does not follow). Only series with enough counts per
   bin (median >= 10) can separate it from Poisson noise. NAB's timestamps are read as UTC (the peak falls at
   17:00, US midday).
3. **Bursts** that are not incidents: outside the labelled windows, a run that starts where a bin reaches
   ``MIN_PEAK`` times the local level (the 6-hour rolling median) and lasts while it stays above 1.5 times.
   Rate per day, peak multiplier (Pareto above ``MIN_PEAK``), decay time (area over peak excess, lognormal).
   The sampler draws bursts minute by minute, and a 5-minute observer sees fewer, merged or split ones, so the
   burst law written is *calibrated*: a year sampled from it, binned by 5 minutes and measured the same way,
   gives the real series' figures (the table prints both).

The five other realTweets series of NAB (GOOG, IBM, KO, PFE, UPS) are a held-out test set: this script names the
five files it reads and never looks for others.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import console, print_table
from localdev.traffic_profile import profile_from_dict, sample_traffic

SERIES = ("AAPL", "AMZN", "CRM", "CVS", "FB")  # the development five, by name: never a glob
BIN_MIN = 5
BINS_PER_DAY = 24 * 60 // BIN_MIN
MIN_PEAK = 3.0  # a burst reaches 3x the local level: the lognormal noise alone does that about once a month
END_BELOW = 1.5  # ... and lasts while it stays above 1.5x
LOCAL_BINS = 73  # the local level: a 6-hour rolling median of the log ratio
MIN_MEDIAN_COUNT = 10  # series whose bins hold fewer counts are mostly Poisson noise: envelope only
ACF_LAGS = (1, 2, 3, 4, 6, 8, 12, 18, 24, 36, 48, 72, 96, 144, 216, 288, 432, 576)
FIT_LAGS = 14  # the components are fitted up to 12 hours: beyond, the ACF echoes each series' own daily shape
CALIBRATION_DAYS = 365
CALIBRATION_RATE = 10.0  # per minute: 50 per bin, about the level of the series the bursts were measured on
DEFAULT_OUT = Path("deploy/traffic/realtweets_profile.json")


@dataclass
class Series:
    name: str
    hour: np.ndarray  # hour of day (UTC) of each bin
    weekday: np.ndarray  # Monday 0
    count: np.ndarray
    labelled: np.ndarray  # inside a labelled anomaly window
    burst: np.ndarray  # inside an ordinary burst (filled by find_bursts)

    @property
    def clean(self) -> np.ndarray:
        return ~self.labelled & ~self.burst


def read_series(data: Path, name: str, windows: dict[str, list[list[str]]]) -> Series:
    key = f"realTweets/Twitter_volume_{name}.csv"
    with (data / "data" / key).open() as handle:
        rows = list(csv.DictReader(handle))
    times = [datetime.fromisoformat(r["timestamp"]) for r in rows]
    stamps = np.array([t.timestamp() for t in times])
    labelled = np.zeros(len(rows), dtype=bool)
    for start, end in windows.get(key, []):
        labelled |= (stamps >= datetime.fromisoformat(start).timestamp()) & (
            stamps <= datetime.fromisoformat(end).timestamp()
        )
    return Series(
        name,
        np.array([t.hour for t in times]),
        np.array([t.weekday() for t in times]),
        np.array([float(r["value"]) for r in rows]),
        labelled,
        np.zeros(len(rows), dtype=bool),
    )


def fit_envelope(series: list[Series], rounds: int = 4) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Hourly and weekly multipliers (mean 1) of the pooled, level-normalised series, and each series' level."""
    levels = {s.name: float(s.count[s.clean].mean()) for s in series}
    y = np.concatenate([s.count[s.clean] / levels[s.name] for s in series])
    hour = np.concatenate([s.hour[s.clean] for s in series])
    weekday = np.concatenate([s.weekday[s.clean] for s in series])
    daily, weekly = np.ones(24), np.ones(7)
    for _ in range(rounds):
        daily = np.array([np.mean(y[hour == h] / weekly[weekday[hour == h]]) for h in range(24)])
        daily /= daily.mean()
        weekly = np.array([np.mean(y[weekday == d] / daily[hour[weekday == d]]) for d in range(7)])
        weekly /= weekly.mean()
    for s in series:  # the level is the mean count at multiplier 1
        levels[s.name] = float(s.count[s.clean].sum() / (daily[s.hour] * weekly[s.weekday])[s.clean].sum())
    return daily, weekly, levels


def envelope_of(s: Series, daily: np.ndarray, weekly: np.ndarray, level: float) -> np.ndarray:
    return level * daily[s.hour] * weekly[s.weekday]


def rolling_median(x: np.ndarray, width: int) -> np.ndarray:
    """Centred rolling median that ignores NaN (the labelled windows)."""
    half = width // 2
    padded = np.pad(x, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    out = np.full(len(x), np.nan)
    has = ~np.all(np.isnan(windows), axis=1)
    out[has] = np.nanmedian(windows[has], axis=1)
    return np.nan_to_num(out, nan=0.0)


def excess(s: Series, mu: np.ndarray) -> np.ndarray:
    """log(count / envelope) above its local (6-hour) level: how far each bin stands out right now."""
    z = np.log((s.count + 0.5) / (mu + 0.5))
    return z - rolling_median(np.where(s.labelled, np.nan, z), LOCAL_BINS)


def poisson_sf(k: float, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean): the pmf summed, or the normal approximation for large means.

    >>> round(poisson_sf(9, 3.0), 4), poisson_sf(0, 3.0), round(poisson_sf(1000, 900.0), 4)
    (0.0038, 1.0, 0.0005)
    """
    if k <= 0:
        return 1.0
    if mean > 500:
        return 0.5 * math.erfc((k - 0.5 - mean) / math.sqrt(2 * mean))
    term = math.exp(-mean)
    below = term
    for i in range(1, int(k)):
        term *= mean / i
        below += term
    return max(0.0, 1.0 - below)


def find_bursts(s: Series, mu: np.ndarray) -> list[dict[str, float]]:
    """Runs outside the labelled windows that reach MIN_PEAK x the local level, significant beyond Poisson noise."""
    e = excess(s, mu)
    local = (s.count + 0.5) / np.exp(e) - 0.5  # the local level, in counts
    bursts: list[dict[str, float]] = []
    i = 0
    while i < len(e):
        if s.labelled[i] or e[i] < math.log(MIN_PEAK) or poisson_sf(s.count[i], max(local[i], 0.1)) > 1e-4:
            i += 1
            continue
        j = i
        while j + 1 < len(e) and not s.labelled[j + 1] and e[j + 1] > math.log(END_BELOW):
            j += 1
        ratio = np.exp(e[i : j + 1])
        peak = float(ratio.max())
        area = float(np.sum(ratio - 1) * BIN_MIN)  # excess in minutes at the local level
        bursts.append(
            {
                "peak": peak,
                "decay_min": area / (peak - 1),
                "duration_min": (j - i + 1) * BIN_MIN,
                "peak_at_bin": float(np.argmax(ratio)),
            }
        )
        s.burst[i : j + 1] = True
        i = j + 1
    return bursts


def masked_acf(z: np.ndarray, valid: np.ndarray, lags: tuple[int, ...]) -> np.ndarray:
    """Autocovariance of ``z`` at ``lags`` over pairs where both bins are valid (FFT, gaps allowed)."""
    v = valid.astype(float)
    zc = np.where(valid, z - z[valid].mean(), 0.0)
    size = 1 << (len(z) + max(lags)).bit_length()
    num = np.fft.irfft(np.abs(np.fft.rfft(zc, size)) ** 2, size)
    den = np.fft.irfft(np.abs(np.fft.rfft(v, size)) ** 2, size)
    return np.array([num[k] / max(den[k], 1.0) for k in lags])


def fit_noise(s: Series, mu: np.ndarray) -> dict[str, Any]:
    """Robust variance of the lognormal multiplier (Poisson part removed) and its autocorrelation."""
    z = np.log((s.count + 0.5) / (mu + 0.5))
    valid = s.clean
    centre = float(np.median(z[valid]))
    sd_obs = 1.4826 * float(np.median(np.abs(z[valid] - centre)))
    poisson_var = float(np.mean(1.0 / (mu[valid] + 0.5)))  # Var log(Poisson(m)) ~ 1/m
    clipped = np.clip(z - centre, -3.5 * sd_obs, 3.5 * sd_obs)
    var_clipped = float(np.var(clipped[valid]))
    acov = masked_acf(clipped, valid, ACF_LAGS)
    return {"var": sd_obs**2 - poisson_var, "acf": acov / (var_clipped - poisson_var), "poisson_var": poisson_var}


def fit_two_ar1(acf: np.ndarray, lags: tuple[int, ...]) -> tuple[float, float, float, float]:
    """``acf(k) ~ w * slow**k + (1 - w) * fast**k``: (w, slow, fast, rms error), by grid search (w least squares)."""
    k = np.array(lags, dtype=float)
    best = (0.0, 0.0, 0.0, math.inf)
    for fast in np.linspace(0.0, 0.95, 96):
        f = fast**k
        for tau in np.geomspace(3, 3000, 200):  # slow time constant, bins
            g = math.exp(-1 / tau) ** k - f
            w = float(np.clip(np.dot(acf - f, g) / max(np.dot(g, g), 1e-12), 0, 1))
            err = float(np.sqrt(np.mean((f + w * g - acf) ** 2)))
            if err < best[3]:
                best = (w, math.exp(-1 / tau), float(fast), err)
    return best


def burst_stats(bursts: list[dict[str, float]], days: float) -> dict[str, Any]:
    """What a 5-minute observer measures: rate, Pareto tail of the peaks, lognormal decay times."""
    peaks = np.array([b["peak"] for b in bursts])
    decays = np.array([b["decay_min"] for b in bursts])
    log_decay = np.log(np.maximum(decays, 1.0))
    return {
        "bursts": len(bursts),
        "days": round(days, 1),
        "rate_per_day": len(bursts) / days,
        "peak_alpha": len(peaks) / float(np.sum(np.log(peaks / MIN_PEAK))),  # Pareto MLE above MIN_PEAK
        "decay_log_mean": float(log_decay.mean()),
        "decay_log_sd": float(log_decay.std()),
        "peak_quantiles": {q: round(float(np.quantile(peaks, float(q))), 2) for q in ("0.5", "0.9", "0.99")},
        "decay_min_quantiles": {q: round(float(np.quantile(decays, float(q))), 1) for q in ("0.5", "0.9")},
        "duration_min_median": float(np.median([b["duration_min"] for b in bursts])),
        "peak_in_first_bin": round(float(np.mean([b["peak_at_bin"] == 0 for b in bursts])), 3),
    }


def simulated_bursts(profile: dict[str, Any], days: int, seed: int) -> dict[str, Any]:
    """Sample ``days`` of one-minute traffic from ``profile``, bin it by 5 minutes, and measure its bursts
    exactly as the real series were measured."""
    start = datetime(2026, 1, 5, tzinfo=UTC)
    rng = np.random.default_rng(seed)
    traffic = sample_traffic(profile_from_dict(profile), start, days * 1440, CALIBRATION_RATE, rng)
    counts = rng.poisson(traffic.expected).reshape(-1, BIN_MIN).sum(axis=1).astype(float)
    hours = (start.timestamp() + BIN_MIN * 60 * np.arange(len(counts))) / 3600
    none = np.zeros(len(counts), dtype=bool)
    s = Series("simulated", (hours % 24).astype(int), ((hours // 24 + 3) % 7).astype(int), counts, none, none.copy())
    daily, weekly, levels = fit_envelope([s])
    return burst_stats(find_bursts(s, envelope_of(s, daily, weekly, levels[s.name])), days)


def calibrate(profile: dict[str, Any], target: dict[str, Any], rounds: int = 6) -> dict[str, Any]:
    """Set the sampler's burst law so that its bursts, seen through 5-minute bins, measure like the real ones.

    A burst drawn at the one-minute scale can straddle two bins, fall under the threshold, or merge with the
    next one, so the measured figures cannot be used as the sampler's parameters directly: each round samples
    a year, measures it, and moves each parameter by the ratio (or difference) still missing.
    """
    law = profile["bursts"]
    law.update(
        rate_per_day=target["rate_per_day"],
        peak_alpha=target["peak_alpha"],
        decay_log_mean=target["decay_log_mean"],
        decay_log_sd=target["decay_log_sd"],
    )
    seen: dict[str, Any] = {}
    for _ in range(rounds):
        seen = simulated_bursts(profile, CALIBRATION_DAYS, seed=0)
        law["rate_per_day"] *= target["rate_per_day"] / seen["rate_per_day"]
        law["peak_alpha"] *= target["peak_alpha"] / seen["peak_alpha"]
        law["decay_log_mean"] += target["decay_log_mean"] - seen["decay_log_mean"]
        law["decay_log_sd"] = max(law["decay_log_sd"] * target["decay_log_sd"] / seen["decay_log_sd"], 0.05)
    return simulated_bursts(profile, CALIBRATION_DAYS, seed=1)  # a fresh year with the final law


def fit(data: Path) -> dict[str, Any]:
    windows = json.loads((data / "labels" / "combined_windows.json").read_text())
    series = [read_series(data, name, windows) for name in SERIES]
    daily, weekly, levels = fit_envelope(series)
    rich = [s for s in series if np.median(s.count[~s.labelled]) >= MIN_MEDIAN_COUNT]
    per_series: dict[str, dict[str, Any]] = {}
    bursts: list[dict[str, float]] = []
    for s in series:  # bursts out of every series (cleaner envelope); their statistics from the rich ones only
        found = find_bursts(s, envelope_of(s, daily, weekly, levels[s.name]))
        days = float((~s.labelled).sum()) / BINS_PER_DAY
        per_series[s.name] = {"level_per_5min": levels[s.name], "bursts_per_day": len(found) / days}
        if s in rich:
            bursts += found
    daily, weekly, levels = fit_envelope(series)  # again, without the bursts
    noise = {s.name: fit_noise(s, envelope_of(s, daily, weekly, levels[s.name])) for s in rich}
    var = float(np.mean([n["var"] for n in noise.values()]))
    acf = np.mean([n["acf"] for n in noise.values()], axis=0)
    w, slow, fast, err = fit_two_ar1(acf[:FIT_LAGS], ACF_LAGS[:FIT_LAGS])
    for name, n in noise.items():
        per_series[name].update(noise_sd=math.sqrt(max(n["var"], 0.0)), acf_lag1=float(n["acf"][0]))
    rich_days = sum(float((~s.labelled).sum()) for s in rich) / BINS_PER_DAY
    observed = burst_stats(bursts, rich_days)
    profile: dict[str, Any] = {
        "source": "NAB realTweets AAPL, AMZN, CRM, CVS, FB (Twitter mentions per 5 min, 2015-02-26 to 2015-04-23), "
        "each normalised by its own level; labelled anomaly windows excluded",
        "fitted_by": "bench/fit_traffic_profile.py",
        "bin_minutes": BIN_MIN,
        "hourly": [float(v) for v in daily],
        "weekly": [float(v) for v in weekly],
        "noise": {
            "sd": math.sqrt(var),
            "slow_share": w,
            "slow_phi": slow,
            "fast_phi": fast,
            "acf_fit_rms": err,
            "acf": {str(k): float(a) for k, a in zip(ACF_LAGS, acf, strict=True)},
            "from_series": [s.name for s in rich],
        },
        "bursts": {"min_peak": MIN_PEAK, "max_peak": observed["peak_quantiles"]["0.99"], "end_below": END_BELOW},
        "series": per_series,
    }
    simulated = calibrate(profile, observed)
    profile["bursts"].update(observed=observed, simulated=simulated, from_series=[s.name for s in rich])
    return rounded(profile)


def rounded(value: Any, digits: int = 4) -> Any:
    """Floats to ``digits`` decimals, all the way down (the file stays small and diffs stay readable).

    >>> rounded({"a": [1.234567, 2], "b": {"c": 0.1 + 0.2}})
    {'a': [1.2346, 2], 'b': {'c': 0.3}}
    """
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def report(profile: dict[str, Any]) -> None:
    noise, bursts = profile["noise"], profile["bursts"]
    seen, sim = bursts["observed"], bursts["simulated"]
    hourly, weekly = profile["hourly"], profile["weekly"]
    slow_tau = -profile["bin_minutes"] / math.log(noise["slow_phi"]) / 60
    rows = [
        [
            "daily shape (UTC)",
            f"min {min(hourly):.2f} at {hourly.index(min(hourly)):02d}h, "
            f"max {max(hourly):.2f} at {hourly.index(max(hourly)):02d}h",
            "",
        ],
        ["weekly shape (Mon..Sun)", " ".join(f"{v:.2f}" for v in weekly), ""],
        [
            "noise sd (log, 5 min)",
            f"{noise['sd']:.3f}: NB k = {math.exp(noise['sd'] ** 2) - 1:.3f} (var = m + k m^2)",
            "",
        ],
        [
            "noise persistence",
            f"{noise['slow_share']:.0%} slow (time constant {slow_tau:.1f} h), rest fast "
            f"(lag 1: {noise['fast_phi']:.2f} per 5 min); acf fit rms {noise['acf_fit_rms']:.3f}",
            "",
        ],
        [
            "bursts per day (>= 3x local)",
            f"{seen['rate_per_day']:.2f} ({seen['bursts']} in {seen['days']:.0f} series-days)",
            f"{sim['rate_per_day']:.2f} (draws {bursts['rate_per_day']:.2f})",
        ],
        [
            "burst peak over 5 min",
            f"median {seen['peak_quantiles']['0.5']}x, p90 {seen['peak_quantiles']['0.9']}x "
            f"(Pareto alpha {seen['peak_alpha']:.2f})",
            f"median {sim['peak_quantiles']['0.5']}x, p90 {sim['peak_quantiles']['0.9']}x",
        ],
        [
            "burst decay (area / peak)",
            f"median {seen['decay_min_quantiles']['0.5']} min, p90 {seen['decay_min_quantiles']['0.9']} min",
            f"median {sim['decay_min_quantiles']['0.5']} min, p90 {sim['decay_min_quantiles']['0.9']} min",
        ],
        [
            "burst run length",
            f"median {seen['duration_min_median']:.0f} min, peak in first bin {seen['peak_in_first_bin']:.0%}",
            f"median {sim['duration_min_median']:.0f} min, {sim['peak_in_first_bin']:.0%}",
        ],
    ]
    print_table("fitted traffic profile", ["property", "real series", "sampler, seen through 5-min bins"], rows)
    print_table(
        "per series",
        ["series", "level / 5 min", "bursts / day", "noise sd", "acf lag 1"],
        [
            [
                n,
                f"{s['level_per_5min']:.1f}",
                f"{s['bursts_per_day']:.2f}",
                *(f"{s[k]:.3f}" if k in s else "-" for k in ("noise_sd", "acf_lag1")),
            ]
            for n, s in profile["series"].items()
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    nab = os.environ.get("NAB_DIR")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(nab) if nab else None,
        required=not nab,
        help="a clone of github.com/numenta/NAB (default $NAB_DIR)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    profile = fit(args.data)
    report(profile)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(profile, indent=1) + "\n")
    console.print(f"profile written to {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
