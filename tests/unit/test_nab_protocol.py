"""The generalisation protocol of bench/nab.py on fixtures: a threshold chosen on other categories, one threshold
for every file, and the product's fixed alerts, scored under NAB's rules."""

from __future__ import annotations

import numpy as np
import pytest

from bench.nab import at_level, category_of, left_out, one_threshold
from bench.nab_scoring import PROFILES, scored_rows

STANDARD = PROFILES["standard"]


def _file(peak_in_window: float, noise_peak: float) -> tuple[np.ndarray, object]:
    """1,000 rows, a window at 500-599; the detector's score peaks at the window's start and once far from it."""
    scores = np.zeros(1000)
    scores[500], scores[300] = peak_in_window, noise_peak
    return scores, scored_rows(1000, [(500, 599)], STANDARD)


def _categories() -> dict:
    # "calm" scores its anomalies at 0.9 and its noise at 0.5; "loud" scores anomalies at 0.95 and noise at 0.92:
    # a threshold tuned on calm (<= 0.9) fires on loud's noise; one tuned on loud (> 0.92) misses calm's anomalies
    calm = [_file(0.9, 0.5) for _ in range(3)]
    loud = [_file(0.95, 0.92) for _ in range(3)]
    return {"calm": category_of(calm, 3, STANDARD), "loud": category_of(loud, 3, STANDARD)}  # type: ignore[arg-type]


def test_a_left_out_category_is_scored_at_the_threshold_of_the_others() -> None:
    out = left_out(_categories(), STANDARD)
    assert out["calm"]["threshold"] == pytest.approx(0.95)  # loud's best: above its noise
    assert out["calm"]["score"] == pytest.approx(0.0)  # which misses every calm anomaly: the null score
    assert out["loud"]["threshold"] == pytest.approx(0.9)  # calm's best
    assert 0 < out["loud"]["score"] < 100  # loud's anomalies found, its noise charged


def test_one_threshold_over_every_file_is_the_best_single_one_and_reports_each_category() -> None:
    figures = one_threshold(_categories(), STANDARD)
    assert figures["threshold"] == pytest.approx(0.9)  # finds all six anomalies, charges loud's three noise rows
    assert figures["categories"]["calm"] == pytest.approx(100.0)
    assert figures["categories"]["loud"] < 100.0
    assert figures["categories"]["loud"] < figures["score"] < figures["categories"]["calm"]


def test_fixed_alerts_are_scored_as_given() -> None:
    categories = _categories()
    hits = {name: [scores >= 0.94 for scores, _ in c.files] for name, c in categories.items()}
    figures = at_level(categories, hits, STANDARD)
    assert figures["categories"]["calm"] == pytest.approx(0.0) and figures["categories"]["loud"] == pytest.approx(100.0)
    assert figures["score"] == pytest.approx(50.0)
