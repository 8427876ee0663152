"""``radar detect``: score an offline series (``timestamp,value``) with the stream's volume detector."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["detect_cmd"]


def detect_cmd(
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV with columns timestamp,value")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV: timestamp,value,anomaly_score")],
    warmup: Annotated[int, typer.Option(help="rows before any score is given")] = 20,
    alpha: Annotated[float, typer.Option(help="baseline adaptation per row")] = 0.05,
    plot: Annotated[Path | None, typer.Option(help="also draw the series and its scores to this PNG")] = None,
) -> None:
    """Write ``timestamp,value,anomaly_score`` (score in [0, 1]) for every input row."""
    from stream.detectors.offline import score_series

    with input.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"timestamp", "value"} <= set(rows[0]):
        raise typer.BadParameter(f"{input} needs a header with timestamp,value")
    scores = score_series((float(r["value"]) for r in rows), warmup=warmup, alpha=alpha)
    with output.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "anomaly_score"])
        for row, score in zip(rows, scores, strict=True):
            writer.writerow([row["timestamp"], row["value"], f"{score:.6f}"])
    flagged = sum(score >= 0.75 for score in scores)
    typer.echo(f"{len(rows)} rows scored -> {output} ({flagged} at or above the alert level 0.75)")
    if plot:
        _plot([float(r["value"]) for r in rows], scores, plot, title=input.name)


def _plot(values: list[float], scores: list[float], path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, height_ratios=[3, 1])
    top.plot(values, linewidth=0.7)
    flagged = [(i, v) for i, (v, s) in enumerate(zip(values, scores, strict=True)) if s >= 0.75]
    flagged = [(i, v) for i, (v, s) in enumerate(zip(values, scores, strict=True)) if s >= 0.75]
    top.scatter([i for i, _ in flagged], [v for _, v in flagged], color="red", s=12, label="score >= 0.75")
    top.set_title(title)
    top.legend()
    bottom.plot(scores, color="darkred", linewidth=0.7)
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("anomaly score")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
