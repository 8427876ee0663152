"""The evaluation report: figures per domain from real labels, and the learning curve when training left one."""

from __future__ import annotations

import json
from pathlib import Path

from inference.dataset import Example
from inference.evaluate import evaluate_predictions, write_report


def test_report_figures_and_learning_curve(tmp_path: Path) -> None:
    examples = [
        Example("a", "tweets", "good", 2.0, "positive"),
        Example("b", "tweets", "bad", -2.0, "negative"),
        Example("c", "nyt", "a fact", 0.0, "neutral"),
        Example("d", "nyt", "fine", 1.0, "positive"),
    ]
    figures = evaluate_predictions(examples, {"model": ["positive", "negative", "positive", "positive"]})
    assert figures["model"]["tweets"]["accuracy"] == 1.0
    assert figures["model"]["nyt"]["confusion"] == [[0, 0, 0], [0, 0, 1], [0, 0, 1]]
    assert figures["model"]["overall"]["accuracy"] == 0.75
    history = [{"epoch": 1, "loss": 0.7, "val_macro_f1": 0.7}, {"epoch": 2, "loss": 0.5}]
    paths = write_report(figures, tmp_path, meta={"model": "m"}, history=history)
    saved = json.loads(paths["json"].read_text())
    assert saved["learning_curve"] == [history[0]]  # epochs without a validation figure are not plotted
    assert "epoch 1 0.700" in paths["md"].read_text()
    assert paths["png"].stat().st_size > 10_000
