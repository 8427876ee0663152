"""How good can a model get on these labels? The panel-noise ceiling of the macro-F1 goal, beside the model.

    uv run python -m bench.label_ceiling [--report reports/eval/report.json] [--json PATH]

Each gold label is the class of a panel's *mean* rating (10 to 100 raters), so labels near the +-0.5 thresholds
would flip with another panel. Two figures per domain on the test split, from the raters' own scores in the sdist:

- **oracle vs a fresh panel**: a reader who knows each snippet's rating exactly, scored against labels from a
  resampled panel of the same size (bootstrap). That is the best macro-F1 any model could expect from the noise
  alone; if the goal sat above it, the goal would be unreachable.
- **half panel vs half panel**: two disjoint halves of the raters, each labelling on its own mean -- how much two
  groups of people agree.

The model and VADER columns come from an evaluation report (``radar model evaluate``), when one is given.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench.common import console, print_table, write_json
from core.settings import Settings
from inference.dataset import (
    NEUTRAL_BAND,
    current_data_dir,
    fetch_vader_sdist,
    load_split,
    parse_rater_ratings,
    prepare,
)
from inference.metrics import macro_f1_ids


def classes(means: np.ndarray) -> np.ndarray:
    """0 negative, 1 neutral, 2 positive on a mean rating (the dataset's thresholds).

    >>> classes(np.array([-0.51, -0.5, 0.5, 0.51])).tolist()
    [0, 1, 1, 2]
    """
    return np.where(means < -NEUTRAL_BAND, 0, np.where(means > NEUTRAL_BAND, 2, 1))


def oracle_vs_fresh_panel(panels: list[np.ndarray], rng: np.random.Generator, rounds: int = 50) -> float:
    """Mean macro-F1 of the exact panel-mean class against the class of a bootstrap panel of the same size."""
    exact = classes(np.array([p.mean() for p in panels]))
    scores = []
    for _ in range(rounds):
        resampled = np.array([rng.choice(p, len(p)).mean() for p in panels])
        scores.append(macro_f1_ids(classes(resampled), exact))
    return float(np.mean(scores))


def half_vs_half(panels: list[np.ndarray], rng: np.random.Generator, rounds: int = 20) -> float:
    """Mean macro-F1 between the labels of two disjoint random halves of each panel."""
    scores = []
    for _ in range(rounds):
        first, second = [], []
        for panel in panels:
            order = rng.permutation(len(panel))
            half = len(panel) // 2
            first.append(panel[order[:half]].mean())
            second.append(panel[order[half:]].mean())
        scores.append(macro_f1_ids(classes(np.array(first)), classes(np.array(second))))
    return float(np.mean(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=Path, default=Path("reports/eval/report.json"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    settings = Settings()
    prepare(settings.cache_dir)
    raters = parse_rater_ratings(fetch_vader_sdist(settings.cache_dir))
    panels: dict[str, list[np.ndarray]] = defaultdict(list)
    skipped = 0
    for example in load_split(current_data_dir(settings.cache_dir), "test"):
        scores = np.array(raters.get(example.id, []))
        # the published tweet panels disagree with the published mean for ~5% of tweets: leave those out
        if len(scores) < 2 or abs(scores.mean() - example.rating) > 0.01:
            skipped += 1
            continue
        panels[example.domain].append(scores)
        panels["overall"].append(scores)
    report = json.loads(args.report.read_text()) if args.report.exists() else {}
    rng = np.random.default_rng(args.seed)
    rows, figures = [], {}
    for domain in ("tweets", "movie", "amazon", "nyt", "overall"):
        group = panels[domain]
        oracle, halves = oracle_vs_fresh_panel(group, rng), half_vs_half(group, rng)
        model = report.get("model", {}).get(domain, {}).get("macro_f1")
        vader = report.get("vader", {}).get(domain, {}).get("macro_f1")
        raters_median = int(np.median([len(p) for p in group]))
        figures[domain] = {
            "n": len(group),
            "raters_median": raters_median,
            "oracle_vs_fresh_panel": oracle,
            "half_vs_half": halves,
            "model": model,
            "vader": vader,
        }
        shown = [f"{x:.3f}" if x is not None else "-" for x in (oracle, halves, model, vader)]
        rows.append([domain, len(group), raters_median, *shown])
    print_table(
        "macro-F1: the label-noise ceiling beside the model and VADER (test split)",
        ["domain", "n", "raters", "oracle vs fresh panel", "half vs half panel", "model", "VADER"],
        rows,
    )
    console.print(f"{skipped} test snippets left out (rater panel missing or not matching the published mean)")
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
