"""One picture per NAB file: the series with its labelled windows shaded, the detector's score, and the alerts.

An analyst judges a detector faster from this than from a table: are the alerts early in the windows, and what
did the false ones fire on?
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bench.nab import LabelledSeries

__all__ = ["plot_file", "plot_series"]


def plot_file(series: LabelledSeries, scores: np.ndarray, alerted: np.ndarray, path: Path) -> None:
    title = f"{series.category}/{series.name}: labelled windows shaded"
    plot_series(series.timestamps, series.values, scores, alerted, path, title=title, windows=series.windows)


def plot_series(
    stamps: Sequence[datetime],
    values: np.ndarray,
    scores: np.ndarray,
    alerted: np.ndarray,
    path: Path,
    *,
    title: str,
    windows: Sequence[tuple[int, int]] = (),
) -> None:
    """The series (alerts marked) over its anomaly score; ``windows`` (row ranges) shaded where labels exist."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.asarray(stamps, dtype="datetime64[s]")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(14, 5), sharex=True, height_ratios=[3, 1])
    top.plot(x, values, linewidth=0.6, color="steelblue")
    for lo, hi in windows:
        for axis in (top, bottom):
            axis.axvspan(x[lo], x[hi], color="orange", alpha=0.25, linewidth=0)
    alerts = np.flatnonzero(alerted)
    top.scatter(x[alerts], values[alerts], color="red", s=25, zorder=3, label="alert")
    top.set_title(f"{title}: {len(alerts)} alerts")
    top.legend(loc="upper left")
    bottom.plot(x, scores, color="darkred", linewidth=0.6)
    bottom.set_ylim(0, 1.02)
    bottom.set_ylabel("anomaly score")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
