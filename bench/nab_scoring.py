"""NAB's published scoring rules (Lavin and Ahmad 2015, and NAB's README), written here from their description.

A detector gives every row an anomaly score; a row whose score reaches the threshold is a detection.

- Each labelled anomaly is a *window* of rows. The first detection inside a window earns a reward on a scaled
  sigmoid of its position: the window's first row earns the full true-positive weight, its last row almost
  nothing. Later detections in the same window earn nothing more (one true positive per window at most).
- A window with no detection costs the false-negative weight.
- Every detection outside a window is charged the false-positive weight, less when it falls just after a window
  (the sigmoid continues past the window's right edge) and in full from three window widths on.
- The first 15% of each file (at most 750 rows) is a probation period: detections there are not scored, and a
  window that lies wholly inside it is not counted missed.
- A category's raw score is the sum over its files; it is normalised so that the null detector (one constant
  score) gets 0 and a perfect one (every window detected at its first row, nothing else) gets 100.
- The threshold is optimised for each detector over a category (every threshold tried; the best one kept).

This module is pure: arrays in, numbers out. ``bench/nab.py`` reads the corpus and prints the table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PROFILES",
    "CostProfile",
    "ScoredRows",
    "normalise",
    "probation_rows",
    "scaled_sigmoid",
    "score_at",
    "scored_rows",
    "sweep",
]


@dataclass(frozen=True)
class CostProfile:
    tp: float
    fp: float
    fn: float


PROFILES: dict[str, CostProfile] = {
    "standard": CostProfile(tp=1.0, fp=0.11, fn=1.0),
    "reward_low_FP_rate": CostProfile(tp=1.0, fp=0.22, fn=1.0),
    "reward_low_FN_rate": CostProfile(tp=1.0, fp=0.11, fn=2.0),
}

OUTSIDE = -1  # window id of a row outside every window


def scaled_sigmoid(position: float) -> float:
    """The reward curve: about +1 at a window's left edge (-1), 0 at its right edge (0), -1 far past it.

    >>> [round(scaled_sigmoid(p), 5) for p in (-1.0, -0.5, 0.0, 1.0, 3.0)]
    [0.98661, 0.84828, 0.0, -0.98661, -1.0]
    """
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def probation_rows(n_rows: int, share: float = 0.15) -> float:
    """Rows at the start of a file that are not scored: 15% of the file, at most 750.

    >>> probation_rows(1000), probation_rows(20000)
    (150, 750.0)
    """
    return min(math.floor(share * n_rows), share * 5000)


@dataclass(frozen=True)
class ScoredRows:
    """What a detection at each scorable row (after probation) would earn, and the window it falls in."""

    weight: np.ndarray  # reward inside a window (> 0), charge outside (< 0)
    window: np.ndarray  # window id, or OUTSIDE
    n_windows: int  # windows counted as missed when undetected (those with a row after probation)


def scored_rows(n_rows: int, windows: Sequence[tuple[int, int]], profile: CostProfile) -> ScoredRows:
    """Per-row weights for one file with ``windows`` given as inclusive (first row, last row) pairs in order.

    >>> r = scored_rows(20, [(10, 13)], PROFILES["standard"])  # probation: rows 0-2
    >>> len(r.weight), r.window[7:11].tolist(), [round(float(w), 2) for w in r.weight[7:11]]  # rows 10-13
    (17, [0, 0, 0, 0], [1.0, 0.97, 0.86, 0.56])
    >>> round(float(r.weight[0]), 3), round(float(r.weight[11]), 3)  # before the window, and just after it
    (-0.11, -0.075)
    """
    maximum = scaled_sigmoid(-1.0)
    weight = np.empty(n_rows)
    window = np.full(n_rows, OUTSIDE, dtype=np.int64)
    previous: tuple[int, int] | None = None  # (last row, width) of the window just left
    bounds = list(windows)
    for i in range(n_rows):
        current = next((k for k, (lo, hi) in enumerate(bounds) if lo <= i <= hi), None)
        if current is not None:
            lo, hi = bounds[current]
            width = hi - lo + 1
            weight[i] = scaled_sigmoid(-(hi - i + 1) / width) * profile.tp / maximum
            window[i] = current
            if i == hi:
                previous = (hi, width)
        else:
            position = 3.0 if previous is None else abs(previous[0] - i) / (previous[1] - 1)
            weight[i] = scaled_sigmoid(position) * profile.fp
    start = probation_rows(n_rows)
    keep = np.arange(n_rows) >= start
    counted = len({int(w) for w in window[keep] if w != OUTSIDE})
    return ScoredRows(weight[keep], window[keep], counted)


def sweep(files: Sequence[tuple[np.ndarray, ScoredRows]], profile: CostProfile) -> tuple[float, float]:
    """The best (threshold, raw score) over every threshold, for files scored together (one category).

    A detection is a row whose score is at least the threshold. Thresholds are tried from the top down, as NAB's
    sweeper does, so the optimum is exact.

    >>> rows = scored_rows(20, [(10, 13)], PROFILES["standard"])
    >>> scores = np.zeros(20); scores[10] = 0.9; scores[16] = 0.5
    >>> sweep([(scores, rows)], PROFILES["standard"])  # at 0.9: the window's first row, nothing else
    (0.9, 1.0)
    """
    anomaly, weight, window, missed = [], [], [], 0.0
    offset = 0
    for scores, rows in files:
        start = len(scores) - len(rows.weight)
        anomaly.append(np.asarray(scores, dtype=float)[start:])
        weight.append(rows.weight)
        window.append(np.where(rows.window == OUTSIDE, OUTSIDE, rows.window + offset))
        offset += int(rows.window.max(initial=-1)) + 1
        missed -= profile.fn * rows.n_windows
    a, w, k = np.concatenate(anomaly), np.concatenate(weight), np.concatenate(window)
    order = np.argsort(-a, kind="stable")
    best_window: dict[int, float] = {}
    total = missed
    best = (math.inf, total)  # nothing detected
    for rank, i in enumerate(order):
        if k[i] == OUTSIDE:
            total += w[i]
        else:
            held = best_window.get(int(k[i]), -profile.fn)
            if w[i] > held:
                total += w[i] - held
                best_window[int(k[i])] = float(w[i])
        last_of_threshold = rank + 1 == len(order) or a[order[rank + 1]] != a[i]
        if last_of_threshold and total > best[1]:
            best = (float(a[i]), total)
    return best


def score_at(files: Sequence[tuple[np.ndarray, ScoredRows]], profile: CostProfile) -> float:
    """The raw score of given detections: one boolean per row of each file (True: the detector alerted there).

    >>> rows = scored_rows(20, [(10, 13)], PROFILES["standard"])
    >>> hits = np.zeros(20, dtype=bool); hits[[11, 12, 16]] = True
    >>> round(score_at([(hits, rows)], PROFILES["standard"]), 3)  # the window's second row, and one false alarm
    0.858
    """
    total = 0.0
    for detections, rows in files:
        hit = np.asarray(detections, dtype=bool)[len(detections) - len(rows.weight) :]
        total += float(rows.weight[hit & (rows.window == OUTSIDE)].sum())
        for k in np.unique(rows.window[rows.window != OUTSIDE]):
            inside = hit & (rows.window == k)
            total += float(rows.weight[inside].max()) if inside.any() else -profile.fn
    return total


def normalise(raw: float, *, null: float, windows: int, profile: CostProfile) -> float:
    """100 x (raw - null) / (perfect - null), perfect being every labelled window's full reward.

    >>> normalise(-4.0, null=-4.0, windows=4, profile=PROFILES["standard"]), normalise(4.0, null=-4.0, windows=4,
    ...     profile=PROFILES["standard"])
    (0.0, 100.0)
    """
    perfect = windows * profile.tp
    return 100.0 * (raw - null) / (perfect - null)
