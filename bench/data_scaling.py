"""Would more labelled data reach the 0.80 macro-F1 goal? The served recipe trained on nested shares of train.

    uv run python -m bench.data_scaling [--fractions 0.125,0.25,0.5,1.0] [--json PATH] [--plot PATH]

Each share is a stratified subset of the next (same validation slice, same test split, same config as the served
model), so the curve shows what more texts buy. Test macro-F1 is fitted as a line in log2(training texts); the
slope is the gain per doubling, and the fit says how many texts the goal would take *if* the line held. That is an
extrapolation -- curves like this bend down as they approach the encoder's capacity -- so read it as a lower bound
on the data needed. Models are cached by (data, config): only missing shares train (about 13 minutes for all of
train, proportionally less for a share, on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import console, print_table, write_json
from core.settings import Settings
from inference.dataset import DOMAINS, current_data_dir, load_split, prepare

GOAL = 0.80


def fit_log2(examples: list[int], scores: list[float]) -> tuple[float, float]:
    """Least squares ``score = intercept + slope * log2(examples)``; returns (intercept, slope).

    >>> [round(v, 4) for v in fit_log2([100, 200, 400], [0.5, 0.6, 0.7])]
    [-0.1644, 0.1]
    """
    slope, intercept = np.polyfit(np.log2(examples), scores, 1)
    return float(intercept), float(slope)


def examples_for(goal: float, intercept: float, slope: float) -> float:
    """Training texts at which the fitted line reaches ``goal`` (infinite when the line does not rise).

    >>> round(examples_for(0.8, -0.1643856, 0.1))
    800
    """
    return math.inf if slope <= 0 else 2 ** ((goal - intercept) / slope)


def _plot(points: list[dict[str, Any]], intercept: float, slope: float, labelled: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    n = [p["examples"] for p in points]
    for domain in DOMAINS:
        ax.plot(n, [p["test"][domain] for p in points], marker=".", linewidth=1, alpha=0.6, label=domain)
    ax.plot(n, [p["test"]["overall"] for p in points], marker="o", linewidth=2.5, color="black", label="overall")
    reach = examples_for(GOAL, intercept, slope)
    right = min(max(n) * 16, reach * 1.3) if math.isfinite(reach) else max(n) * 4
    line_x = np.geomspace(min(n), right, 50)
    ax.plot(line_x, intercept + slope * np.log2(line_x), "k--", linewidth=1, label=f"fit: +{slope:.3f} per doubling")
    ax.axhline(GOAL, color="grey", linestyle=":", linewidth=1)
    ax.axvline(labelled, color="tab:red", linestyle=":", linewidth=1, label=f"every labelled text ({labelled:,})")
    ax.text(min(n), GOAL + 0.005, f"goal {GOAL}", fontsize=8, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training texts (log scale)")
    ax.set_ylabel("test macro-F1")
    ax.set_title("macro-F1 against training data (served recipe, all-MiniLM-L6-v2)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    from core.progress import progress_reporter
    from inference.evaluate import evaluate_predictions, predict_labels
    from inference.runtime import SentimentRuntime
    from inference.train import TrainConfig, train

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fractions", default="0.125,0.25,0.5,1.0", help="shares of train, comma-separated")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=Path("reports/data_scaling.png"))
    args = parser.parse_args()
    fractions = sorted(float(f) for f in args.fractions.split(","))

    settings = Settings()
    prepared = prepare(settings.cache_dir)
    data_dir = current_data_dir(settings.cache_dir)
    test = load_split(data_dir, "test")
    labelled = len(test) + len(load_split(data_dir, "train"))  # all the human-rated texts there are
    points: list[dict[str, Any]] = []
    for fraction in fractions:
        config = TrainConfig(train_fraction=fraction)
        with progress_reporter(console) as report:
            result = train(data_dir, prepared.digest, settings.cache_dir, config, progress=report)
        summary = json.loads((result.model_dir / "training.json").read_text())
        runtime = SentimentRuntime(result.model_dir, backend="torch")
        with console.status(f"share {fraction}: scoring {len(test)} test texts…"):
            figures = evaluate_predictions(test, {"model": predict_labels(runtime.predict, [e.text for e in test])})
        points.append(
            {
                "fraction": fraction,
                "examples": summary["examples"],
                "minutes": summary["seconds"] / 60,
                "cached": result.cached,
                "val_macro_f1": summary["history"][-1].get("val_macro_f1"),
                "test": {d: figures["model"][d]["macro_f1"] for d in (*DOMAINS, "overall")},
                "model": str(result.model_dir),
            }
        )
        console.print(f"share {fraction}: {summary['examples']} texts, test macro-F1 {points[-1]['test']['overall']}")

    intercept, slope = fit_log2([p["examples"] for p in points], [p["test"]["overall"] for p in points])
    reach = examples_for(GOAL, intercept, slope)
    rows = [
        [
            f"{p['fraction']:g}",
            p["examples"],
            f"{p['minutes']:.1f}" + (" (cached)" if p["cached"] else ""),
            f"{p['val_macro_f1']:.3f}",
            *(f"{p['test'][d]:.3f}" for d in (*DOMAINS, "overall")),
        ]
        for p in points
    ]
    print_table(
        "test macro-F1 against training data (served recipe; validation slice and test split fixed)",
        ["share", "texts", "train min", "val", *DOMAINS, "overall"],
        rows,
    )
    largest = points[-1]["examples"]
    console.print(
        f"fit: macro-F1 = {intercept:.3f} + {slope:.4f} x log2(texts), i.e. +{slope:.3f} per doubling; "
        f"the line reaches {GOAL} at ~{reach:,.0f} texts ({reach / largest:,.1f}x the {largest:,} used), "
        "if it held (it bends down near capacity, so this is a lower bound); "
        f"the sdist holds {labelled:,} rated texts in all"
    )
    if len(points) > 1:
        _plot(points, intercept, slope, labelled, args.plot)
        console.print(f"plot: {args.plot}")
    write_json(
        args.json,
        {
            "points": points,
            "fit": {"intercept": intercept, "slope_per_doubling": slope},
            "examples_for_goal": reach,
            "goal": GOAL,
            "labelled_texts": labelled,
        },
    )


if __name__ == "__main__":
    main()
