"""Evaluate the fine-tuned model side by side with the VADER lexicon on the same test split.

VADER is what analysts know: compound >= 0.05 is positive, <= -0.05 negative, neutral between (its authors'
thresholds). Figures per domain and overall: accuracy, macro-F1, confusion matrices. The report is written as
JSON (machine-readable), Markdown (for notes and PRs) and a PNG plot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from inference.dataset import DOMAINS, Example
from inference.labels import LABELS
from inference.metrics import accuracy, confusion, macro_f1, per_class_f1

__all__ = ["evaluate_predictions", "vader_labels", "write_report"]


def vader_labels(texts: Sequence[str]) -> list[str]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    out = []
    for text in texts:
        compound = analyzer.polarity_scores(text)["compound"]
        out.append("positive" if compound >= 0.05 else "negative" if compound <= -0.05 else "neutral")
    return out


def _figures(truth: list[str], predicted: list[str]) -> dict[str, Any]:
    matrix = confusion(truth, predicted)
    return {
        "n": len(truth),
        "accuracy": round(accuracy(truth, predicted), 4),
        "macro_f1": round(macro_f1(truth, predicted), 4),
        "f1_per_class": dict(zip(LABELS, (round(x, 4) for x in per_class_f1(matrix)), strict=True)),
        "confusion": matrix,
    }


def evaluate_predictions(examples: list[Example], systems: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """``{system: {domain | "overall": figures}}`` for each system's predicted labels."""
    report: dict[str, dict[str, Any]] = {}
    for system, predicted in systems.items():
        report[system] = {}
        for domain in [*DOMAINS, "overall"]:
            rows = [i for i, e in enumerate(examples) if domain == "overall" or e.domain == domain]
            report[system][domain] = _figures([examples[i].label for i in rows], [predicted[i] for i in rows])
    return report


def write_report(
    report: dict[str, Any], out_dir: Path, *, meta: dict[str, Any], history: list[dict[str, float]] | None = None
) -> dict[str, Path]:
    """JSON, Markdown and PNG; ``history`` (training.json's per-epoch records) adds the learning curve."""
    out_dir.mkdir(parents=True, exist_ok=True)
    curve = [h for h in history or [] if "val_macro_f1" in h]
    paths = {"json": out_dir / "report.json", "md": out_dir / "report.md", "png": out_dir / "report.png"}
    paths["json"].write_text(json.dumps({**report, "meta": meta, "learning_curve": curve}, indent=2))
    paths["md"].write_text(_markdown(report, meta, curve))
    _plot(report, paths["png"], curve)
    return paths


def _markdown(report: dict[str, Any], meta: dict[str, Any], curve: list[dict[str, float]]) -> str:
    systems = list(report)
    lines = [f"# Sentiment evaluation ({meta.get('model', '?')})", ""]
    header = "| domain | n | " + " | ".join(f"{s} acc | {s} macro-F1" for s in systems) + " |"
    lines += [header, "|" + "---|" * (2 + 2 * len(systems))]
    for domain in [*DOMAINS, "overall"]:
        cells = [domain, str(report[systems[0]][domain]["n"])]
        for s in systems:
            cells += [f"{report[s][domain]['accuracy']:.3f}", f"{report[s][domain]['macro_f1']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Confusion matrices (overall; rows = truth, columns = predicted; negative, neutral, positive):", ""]
    for s in systems:
        lines.append(f"- {s}: {report[s]['overall']['confusion']}")
    lines += [
        "",
        "Thresholds: gold negative < -0.5 <= neutral <= 0.5 < positive on the mean human rating; "
        "VADER compound >= 0.05 positive, <= -0.05 negative.",
    ]
    for key, value in meta.items():
        lines.append(f"- {key}: {value}")
    if curve:
        points = ", ".join(f"epoch {int(h['epoch'])} {h['val_macro_f1']:.3f}" for h in curve)
        lines += ["", f"Learning curve (macro-F1 on the validation slice of train, before class offsets): {points}."]
    return "\n".join(lines) + "\n"


def _plot(report: dict[str, Any], path: Path, curve: list[dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    systems = list(report)
    domains = [*DOMAINS, "overall"]
    panels = 1 + len(systems) + (1 if curve else 0)
    fig, axes = plt.subplots(1, panels, figsize=(5 + 3.6 * (panels - 1), 4))
    width = 0.8 / len(systems)
    x = np.arange(len(domains))
    for k, s in enumerate(systems):
        values = [report[s][d]["macro_f1"] for d in domains]
        bars = axes[0].bar(x + k * width - 0.4 + width / 2, values, width, label=s)
        axes[0].bar_label(bars, fmt="%.2f", fontsize=7)
    axes[0].set_xticks(x, domains)
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel("macro-F1")
    axes[0].set_title("macro-F1 by domain")
    axes[0].axhline(0.8, color="grey", linestyle=":", linewidth=1)
    axes[0].legend()
    for ax, s in zip(axes[1 : 1 + len(systems)], systems, strict=True):
        matrix = np.array(report[s]["overall"]["confusion"], dtype=float)
        shares = matrix / matrix.sum(axis=1, keepdims=True).clip(min=1)
        ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{int(value)}", ha="center", va="center", color="black" if shares[i, j] < 0.6 else "white")
        ax.set_xticks(range(3), [label[:3] for label in LABELS])
        ax.set_yticks(range(3), [label[:3] for label in LABELS])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{s} (overall)")
    if curve:
        ax = axes[-1]
        epochs = [h["epoch"] for h in curve]
        ax.plot(epochs, [h["val_macro_f1"] for h in curve], marker="o", label="validation macro-F1")
        ax.set_xlabel("epoch")
        ax.set_ylabel("macro-F1")
        ax.set_xticks(epochs)
        loss = ax.twinx()
        loss.plot(epochs, [h["loss"] for h in curve], color="grey", linestyle="--", marker=".", label="train loss")
        loss.set_ylabel("train loss")
        ax.set_title("learning curve")
        ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def predict_labels(predict: Callable[[list[str]], Any], texts: list[str], batch: int = 64) -> list[str]:
    """Labels from a ``predict(texts) -> probs`` function, batched."""
    labels: list[str] = []
    for start in range(0, len(texts), batch):
        probs = predict(texts[start : start + batch])
        labels.extend(LABELS[int(i)] for i in probs.argmax(axis=1))
    return labels
