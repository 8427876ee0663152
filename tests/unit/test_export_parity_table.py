"""`radar model export`'s parity report: each variant scored in chunks, then compared with torch fp32."""

from __future__ import annotations

from typing import Any

import numpy as np

from services.cli.model import _parity_table, _score_variants


class _Fixed:
    """A stand-in runtime: the same probabilities for every text, recording the chunk sizes it was asked for."""

    def __init__(self, row: list[float]) -> None:
        self.row = np.asarray(row)
        self.calls: list[int] = []

    def predict(self, texts: list[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return np.tile(self.row, (len(texts), 1))


def test_each_variant_is_scored_64_texts_at_a_time() -> None:
    runtime = _Fixed([0.1, 0.2, 0.7])
    runtimes: dict[str, Any] = {"torch fp32": runtime}
    probs = _score_variants(runtimes, [f"t{i}" for i in range(130)])
    assert runtime.calls == [64, 64, 2]
    assert probs["torch fp32"].shape == (130, 3)


def test_the_table_has_a_row_per_variant_against_torch() -> None:
    probs = {"torch fp32": np.array([[0.1, 0.2, 0.7]] * 2), "onnx int8": np.array([[0.6, 0.2, 0.2]] * 2)}
    table = _parity_table(probs, ["positive", "positive"], "parity")
    assert [cell for cell in table.columns[0].cells] == ["torch fp32", "onnx int8"]
    assert list(table.columns[1].cells) == ["1.0000", "0.0000"]
    assert list(table.columns[2].cells) == ["0.0000", "0.5000"]
