"""The Numenta Anomaly Benchmark on our detector, beside published detectors, under NAB's own scoring rules.

    uv run python -m bench.nab [--data DIR] [--compare RESULTS_DIR ...] [--profile standard] [--json PATH]
                               [--plot DIR]

``--data`` is a folder laid out like NAB (``data/<category>/*.csv``, ``labels/combined_windows.json``); default
``$NAB_DIR``, else ``../shared/data/nab-dev``. Our detector runs the code ``radar detect`` runs
(:func:`stream.detectors.offline.score_series`) with the product's parameters; ``--compare`` scores published result
folders (``<dir>/<category>/<detector>_<file>.csv`` with an ``anomaly_score`` column; default: every folder under
``<data>/results``) beside it. One table: the categories as rows, the detectors as columns, each at its threshold
optimised over the category (NAB's procedure), and ours also as the product alerts: the readings the stream and
``radar detect`` raise alerts on, at their fixed alert level. The rules are in :mod:`bench.nab_scoring`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import console, print_table, write_json
from bench.nab_scoring import PROFILES, CostProfile, ScoredRows, normalise, score_at, scored_rows, sweep
from stream.detectors.offline import RECURRENCE_DAYS, score_series

__all__ = ["LabelledSeries", "default_data_dir", "load_corpus", "main", "score_category"]

OURS = "radar"


def default_data_dir() -> Path:
    return Path(os.environ.get("NAB_DIR") or Path(__file__).resolve().parents[1].parent / "shared/data/nab-dev")


@dataclass(frozen=True)
class LabelledSeries:
    category: str
    name: str  # file name, e.g. Twitter_volume_AAPL.csv
    timestamps: list[datetime]
    values: np.ndarray
    windows: list[tuple[int, int]]  # inclusive row ranges


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.strip())


def read_series(path: Path) -> tuple[list[datetime], np.ndarray]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [_parse(r["timestamp"]) for r in rows], np.array([float(r["value"]) for r in rows])


def load_corpus(data_dir: Path) -> dict[str, list[LabelledSeries]]:
    """Every labelled file under ``data_dir``, by category; windows mapped to row ranges (exact timestamps)."""
    labels_path = data_dir / "labels" / "combined_windows.json"
    if not labels_path.exists():
        raise FileNotFoundError(
            f"no NAB labels at {labels_path}: point --data or $NAB_DIR at a folder laid out like NAB "
            "(github.com/numenta/NAB: data/, labels/combined_windows.json)"
        )
    labels: dict[str, list[list[str]]] = json.loads(labels_path.read_text())
    corpus: dict[str, list[LabelledSeries]] = {}
    for key in sorted(labels):
        category, name = key.split("/", 1)
        path = data_dir / "data" / category / name
        if not path.exists():
            continue
        stamps, values = read_series(path)
        index = {t: i for i, t in enumerate(stamps)}
        windows = [(index[_parse(lo)], index[_parse(hi)]) for lo, hi in labels[key]]
        corpus.setdefault(category, []).append(LabelledSeries(category, name, stamps, values, windows))
    return corpus


def read_results(results_dir: Path, series: LabelledSeries) -> np.ndarray | None:
    """A published detector's scores for one file, or None when that folder has none for it."""
    matches = list((results_dir / series.category).glob(f"*_{series.name}"))
    if not matches:
        return None
    with matches[0].open(newline="") as handle:
        scores = np.array([float(r["anomaly_score"]) for r in csv.DictReader(handle)])
    if len(scores) != len(series.values):
        raise ValueError(f"{matches[0]} has {len(scores)} rows, the data file {len(series.values)}")
    return scores


def score_category(
    files: list[tuple[np.ndarray, ScoredRows]],
    windows: int,
    profile: CostProfile,
    alerts: list[np.ndarray] | None = None,
) -> dict[str, float]:
    """Normalised score at the optimised threshold (and of the product's own ``alerts``, when given)."""
    null = sweep([(np.full(len(scores), 0.5), rows) for scores, rows in files], profile)[1]
    threshold, raw = sweep(files, profile)
    out = {"score": normalise(raw, null=null, windows=windows, profile=profile), "threshold": threshold}
    if alerts is not None:
        fixed = score_at(list(zip(alerts, [rows for _, rows in files], strict=True)), profile)
        out["score_at_level"] = normalise(fixed, null=null, windows=windows, profile=profile)
        out["alerts"] = float(sum(int(a.sum()) for a in alerts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="a NAB-like folder (default $NAB_DIR)")
    parser.add_argument("--compare", type=Path, nargs="*", default=None, help="published results folders")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="standard")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None, help="one PNG per file into this folder")
    args = parser.parse_args()
    data_dir = args.data or default_data_dir()
    compare = args.compare if args.compare is not None else sorted(p for p in (data_dir / "results").glob("*"))
    profile = PROFILES[args.profile]
    corpus = load_corpus(data_dir)
    names = [OURS, *(p.name for p in compare)]
    figures: dict[str, dict[str, dict[str, float]]] = {}
    timings: list[float] = []
    ours_by_file: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for category, series_list in corpus.items():
        rows = [scored_rows(len(s.values), s.windows, profile) for s in series_list]
        windows = sum(len(s.windows) for s in series_list)
        per_detector: dict[str, dict[str, float]] = {}
        ours, alerts = [], []
        for s in series_list:
            started = time.perf_counter()
            readings = score_series(s.values.tolist(), s.timestamps)
            timings.append((time.perf_counter() - started) / len(s.values) * 16_000)
            ours.append(np.array([r.score for r in readings]))
            alerts.append(np.array([r.alert for r in readings]))
            ours_by_file[f"{category}/{s.name}"] = (ours[-1], alerts[-1])
        per_detector[OURS] = score_category(list(zip(ours, rows, strict=True)), windows, profile, alerts)
        for results_dir in compare:
            published = [read_results(results_dir, s) for s in series_list]
            if all(p is not None for p in published):
                files = [(p, r) for p, r in zip(published, rows, strict=True) if p is not None]
                per_detector[results_dir.name] = score_category(files, windows, profile)
        figures[category] = per_detector
    level = f"{OURS} (its alerts)"
    columns = ["category", f"{OURS} (optimised)", level, "alerts", *names[1:]]
    table = []
    for category, per_detector in figures.items():
        ours_figures = per_detector[OURS]
        row: list[Any] = [category, ours_figures["score"], ours_figures["score_at_level"], int(ours_figures["alerts"])]
        row += [per_detector[n]["score"] if n in per_detector else "-" for n in names[1:]]
        table.append(row)
    print_table(f"NAB, {args.profile} profile, normalised (null 0, perfect 100) — data: {data_dir}", columns, table)
    console.print(
        f"{OURS}: the stream's detector; its alerts: readings rarer than once in {RECURRENCE_DAYS:g} days of the "
        f"series (the alert level of the stream and `radar detect`); {np.median(timings):.2f} s per 16,000 rows; "
        "optimised thresholds: " + ", ".join(f"{c} {f[OURS]['threshold']:.3f}" for c, f in figures.items())
    )
    write_json(args.json, {"profile": args.profile, "data": str(data_dir), "categories": figures})
    if args.plot:
        from bench.nab_plot import plot_file

        args.plot.mkdir(parents=True, exist_ok=True)
        for category, series_list in corpus.items():
            for s in series_list:
                scores, alerted = ours_by_file[f"{category}/{s.name}"]
                plot_file(s, scores, alerted, args.plot / f"{category}_{s.name}.png")
        console.print(f"plots written to {args.plot}")


if __name__ == "__main__":
    main()
