"""The Numenta Anomaly Benchmark on our detector, beside published detectors, under NAB's own scoring rules.

    uv run python -m bench.nab [--data DIR] [--compare RESULTS_DIR ...] [--profile standard] [--json PATH]
                               [--plot DIR]

``--data`` is a folder laid out like NAB (``data/<category>/*.csv``, ``labels/combined_windows.json``); default
``$NAB_DIR`` (a clone of github.com/numenta/NAB: the README's "Data sets" says how to get it). Our detector runs
the code ``radar detect`` runs (:func:`stream.detectors.offline.score_series`) with the product's parameters;
``--compare`` scores published result folders (``<dir>/<category>/<detector>_<file>.csv`` with an
``anomaly_score`` column; default: every folder under ``<data>/results``) beside it. The rules are in
:mod:`bench.nab_scoring`.

Three tables, the categories as rows and the detectors as columns, because a threshold optimised on the files it
is scored on says little about files it never saw:

1. in sample: each category at its own optimised threshold (NAB's per-category figure; flatters every detector);
2. left out: each category at the threshold optimised over the *other* categories (what a threshold chosen on
   some kinds of series earns on another kind); choose methods by this one;
3. one threshold per detector over every file (NAB's own rule for its headline score), each category at it, and
   ours at its fixed alert level too (the readings the stream and ``radar detect`` alert on: nothing optimised);
4. ours at alert levels of other recurrences (an alert: rarer than once in R days of that series), and R chosen
   on the other three categories: if the level means the same on every series, the R chosen elsewhere serves;
5. ours file by file at its one threshold: what each labelled window earned (or MISS) and the false positives,
   to see where the points go.
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
from bench.nab_scoring import (
    OUTSIDE,
    PROFILES,
    CostProfile,
    ScoredRows,
    normalise,
    score_at,
    scored_rows,
    sweep,
)
from core.errors import ConfigError
from stream.detectors.offline import RECURRENCE_DAYS, score_series

__all__ = ["LabelledSeries", "default_data_dir", "load_corpus", "main", "per_file", "score_category"]

OURS = "radar"
# published figures with one threshold over these 25 dev files, standard profile (the detectors' NAB results)
ANCHORS_ONE_THRESHOLD = {"ARTime": 76.6, "HTM": 68.9, "CAD OSE": 68.3}


def default_data_dir() -> Path:
    """``$NAB_DIR``: NAB lies outside the repository, wherever its user cloned it."""
    where = os.environ.get("NAB_DIR")
    if not where:
        raise ConfigError(
            "set NAB_DIR (or --data) to a clone of NAB: git clone https://github.com/numenta/NAB "
            "(data/, labels/ and results/numenta/ are read)"
        )
    return Path(where)


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


Files = list[tuple[np.ndarray, ScoredRows]]


@dataclass(frozen=True)
class Category:
    """One category's scored files for one detector, with what normalising needs."""

    files: Files
    windows: int
    null: float  # the raw score of the null detector (one constant score) over these files


def category_of(files: Files, windows: int, profile: CostProfile) -> Category:
    return Category(files, windows, sweep([(np.full(len(s), 0.5), rows) for s, rows in files], profile)[1])


def _at_threshold(category: Category, threshold: float, profile: CostProfile) -> float:
    raw = score_at([(scores >= threshold, rows) for scores, rows in category.files], profile)
    return normalise(raw, null=category.null, windows=category.windows, profile=profile)


def _pooled(categories: list[Category], profile: CostProfile) -> Category:
    files = [f for c in categories for f in c.files]
    return Category(files, sum(c.windows for c in categories), sum(c.null for c in categories))


def left_out(categories: dict[str, Category], profile: CostProfile) -> dict[str, dict[str, float]]:
    """Each category scored at the threshold optimised over the *other* categories together: what a threshold
    chosen on some series earns on series of another kind (leave one category out)."""
    out = {}
    for name, category in categories.items():
        others = _pooled([c for other, c in categories.items() if other != name], profile)
        threshold = sweep(others.files, profile)[0]
        out[name] = {"score": _at_threshold(category, threshold, profile), "threshold": threshold}
    return out


def one_threshold(categories: dict[str, Category], profile: CostProfile) -> dict[str, Any]:
    """NAB's own rule: one threshold per detector, optimised over every file at once; the corpus's normalised score
    and each category's at that threshold."""
    corpus = _pooled(list(categories.values()), profile)
    threshold, raw = sweep(corpus.files, profile)
    return {
        "threshold": threshold,
        "score": normalise(raw, null=corpus.null, windows=corpus.windows, profile=profile),
        "categories": {name: _at_threshold(c, threshold, profile) for name, c in categories.items()},
    }


def at_level(categories: dict[str, Category], alerts: dict[str, list[np.ndarray]], profile: CostProfile):
    """The product's own alerts (a fixed level, nothing optimised), per category and over the corpus."""
    per = {}
    raw_total = 0.0
    for name, category in categories.items():
        raw = score_at(list(zip(alerts[name], [rows for _, rows in category.files], strict=True)), profile)
        raw_total += raw
        per[name] = normalise(raw, null=category.null, windows=category.windows, profile=profile)
    corpus = _pooled(list(categories.values()), profile)
    return {"score": normalise(raw_total, null=corpus.null, windows=corpus.windows, profile=profile), "categories": per}


def per_file(scores: np.ndarray, rows: ScoredRows, threshold: float) -> dict[str, Any]:
    """One file's detections at ``threshold``: each counted window's reward (None: missed) and the false positives.

    >>> rows = scored_rows(20, [(10, 13)], PROFILES["standard"])
    >>> scores = np.zeros(20); scores[[11, 16, 18]] = 0.9
    >>> per_file(scores, rows, 0.5)
    {'windows': [0.97], 'false_positives': 2, 'false_positive_cost': -0.22}
    """
    hit = np.asarray(scores)[len(scores) - len(rows.weight) :] >= threshold
    windows: list[float | None] = []
    for k in np.unique(rows.window[rows.window != OUTSIDE]):
        inside = hit & (rows.window == k)
        windows.append(round(float(rows.weight[inside].max()), 2) if inside.any() else None)
    outside = hit & (rows.window == OUTSIDE)
    return {
        "windows": windows,
        "false_positives": int(outside.sum()),
        "false_positive_cost": round(float(rows.weight[outside].sum()), 2),
    }


RECURRENCES = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0)  # alert levels in days: the product's is RECURRENCE_DAYS


def alert_levels(
    corpus: dict[str, list[LabelledSeries]], categories: dict[str, Category], profile: CostProfile
) -> dict[str, Any]:
    """Our alerts at each recurrence of :data:`RECURRENCES` per category and over the corpus, and each category at
    the recurrence that scores best over the other categories (leave one category out, as for thresholds)."""
    by_level = {
        r: {
            c: [
                np.array([x.alert for x in score_series(s.values.tolist(), s.timestamps, recurrence_days=r)])
                for s in ss
            ]
            for c, ss in corpus.items()
        }
        for r in RECURRENCES
    }
    scored = {r: at_level(categories, alerts, profile) for r, alerts in by_level.items()}
    chosen = {}
    for name in categories:
        others = {c: v for c, v in categories.items() if c != name}
        best = max(RECURRENCES, key=lambda r: at_level(others, by_level[r], profile)["score"])
        chosen[name] = {"recurrence_days": best, "score": scored[best]["categories"][name]}
    return {"levels": {str(r): v for r, v in scored.items()}, "left_out": chosen}


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
    timings: list[float] = []
    ours_by_file: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    scored: dict[str, dict[str, Category]] = {OURS: {}}  # detector -> category -> its files
    alerts: dict[str, list[np.ndarray]] = {}
    for category, series_list in corpus.items():
        rows = [scored_rows(len(s.values), s.windows, profile) for s in series_list]
        windows = sum(len(s.windows) for s in series_list)
        ours, alerts[category] = [], []
        for s in series_list:
            started = time.perf_counter()
            readings = score_series(s.values.tolist(), s.timestamps)
            timings.append((time.perf_counter() - started) / len(s.values) * 16_000)
            ours.append(np.array([r.score for r in readings]))
            alerts[category].append(np.array([r.alert for r in readings]))
            ours_by_file[f"{category}/{s.name}"] = (ours[-1], alerts[category][-1])
        scored[OURS][category] = category_of(list(zip(ours, rows, strict=True)), windows, profile)
        for results_dir in compare:
            published = [read_results(results_dir, s) for s in series_list]
            if all(p is not None for p in published):
                files = [(p, r) for p, r in zip(published, rows, strict=True) if p is not None]
                scored.setdefault(results_dir.name, {})[category] = category_of(files, windows, profile)
    # a detector is compared on the protocols only where it has every category
    complete = {name: cats for name, cats in scored.items() if set(cats) == set(corpus)}
    names = list(complete)
    figures: dict[str, Any] = {"profile": args.profile, "data": str(data_dir), "detectors": {}}
    for name, cats in complete.items():
        optimised = {}
        for category, c in cats.items():
            threshold, raw = sweep(c.files, profile)
            optimised[category] = {
                "score": normalise(raw, null=c.null, windows=c.windows, profile=profile),
                "threshold": threshold,
            }
        figures["detectors"][name] = {
            "per_category_optimised": optimised,
            "left_out_category": left_out(cats, profile),
            "one_threshold": one_threshold(cats, profile),
        }
    ours_fig = figures["detectors"][OURS]
    ours_fig["alert_level"] = at_level(complete[OURS], alerts, profile)
    threshold = ours_fig["one_threshold"]["threshold"]
    ours_fig["per_file"] = {
        f"{category}/{s.name}": per_file(scores, rows, threshold)
        for category, series_list in corpus.items()
        for s, (scores, rows) in zip(series_list, complete[OURS][category].files, strict=True)
    }
    ours_fig["alerts"] = {c: int(sum(a.sum() for a in alerts[c])) for c in corpus}
    console.log("alert levels…")
    ours_fig["alert_levels"] = levels = alert_levels(corpus, complete[OURS], profile)

    level = f"{OURS}, its alerts"
    columns = ["category", *names, level]

    print_table(
        "1. in sample: threshold optimised per category (NAB's per-category figure)",
        columns,
        [[c, *(figures["detectors"][n]["per_category_optimised"][c]["score"] for n in names), "-"] for c in corpus],
    )
    left = "2. left out: threshold optimised over the other three categories, scored on this one"
    rows_out = [[c, *(figures["detectors"][n]["left_out_category"][c]["score"] for n in names), "-"] for c in corpus]
    rows_out.append(
        [
            "mean",
            *(np.mean([figures["detectors"][n]["left_out_category"][c]["score"] for c in corpus]) for n in names),
            "-",
        ]
    )
    print_table(left, columns, rows_out)
    rows_out = [
        [
            c,
            *(figures["detectors"][n]["one_threshold"]["categories"][c] for n in names),
            f"{ours_fig['alert_level']['categories'][c]:.1f} ({ours_fig['alerts'][c]} alerts)",
        ]
        for c in corpus
    ]
    rows_out.append(
        [
            f"all {sum(len(v) for v in corpus.values())} files",
            *(figures["detectors"][n]["one_threshold"]["score"] for n in names),
            f"{ours_fig['alert_level']['score']:.1f}",
        ]
    )
    print_table(
        f"3. one threshold per detector over every file (NAB's rule), and {OURS}'s fixed alert level — "
        f"{args.profile} profile, normalised (null 0, perfect 100), data: {data_dir}",
        columns,
        rows_out,
    )
    level_columns = ["category", *(f"R = {r:g} d" for r in RECURRENCES), "R chosen on the others", "its score"]
    level_rows: list[list[Any]] = [
        [
            c,
            *(levels["levels"][str(r)]["categories"][c] for r in RECURRENCES),
            f"{levels['left_out'][c]['recurrence_days']:g} d",
            levels["left_out"][c]["score"],
        ]
        for c in corpus
    ]
    level_rows.append(["all files", *(levels["levels"][str(r)]["score"] for r in RECURRENCES), "-", "-"])
    print_table(
        f"4. {OURS}'s alerts at other levels: rarer than once in R days of the series (the product's: "
        f"{RECURRENCE_DAYS:g} d)",
        level_columns,
        level_rows,
    )
    print_table(
        f"5. {OURS} file by file at its one threshold ({threshold:.3f}): each window's reward, false positives",
        ["file", "windows", "false positives", "their cost"],
        [
            [
                name,
                " ".join("MISS" if w is None else f"{w:.2f}" for w in f["windows"]),
                f["false_positives"],
                f"{f['false_positive_cost']:+.2f}",
            ]
            for name, f in ours_fig["per_file"].items()
        ],
    )
    console.print(
        f"{OURS}: the stream's detector; its alerts: readings rarer than once in {RECURRENCE_DAYS:g} days of the "
        f"series (the alert level of the stream and `radar detect`); {np.median(timings):.2f} s per 16,000 rows; "
        f"one threshold: "
        + ", ".join(f"{n} {figures['detectors'][n]['one_threshold']['threshold']:.3f}" for n in names)
    )
    console.print(
        "published, one threshold over the 25 dev files: "
        + ", ".join(f"{name} {value}" for name, value in ANCHORS_ONE_THRESHOLD.items())
        + " (HTM's is the `numenta` column, recomputed here)"
    )
    write_json(args.json, figures)
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
