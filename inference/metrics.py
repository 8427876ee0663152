"""Classification metrics over the three labels: small pure functions, so evaluation needs no extra library."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inference.labels import LABELS

__all__ = ["accuracy", "confusion", "macro_f1", "macro_f1_ids", "per_class_f1"]


def confusion(truth: Sequence[str], predicted: Sequence[str]) -> list[list[int]]:
    """Rows are the true labels, columns the predicted, both in LABELS order.

    >>> confusion(["negative", "positive", "positive"], ["negative", "neutral", "positive"])
    [[1, 0, 0], [0, 0, 0], [0, 1, 1]]
    """
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = [[0, 0, 0] for _ in LABELS]
    for t, p in zip(truth, predicted, strict=True):
        matrix[index[t]][index[p]] += 1
    return matrix


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of exact label matches.

    >>> accuracy(["neutral", "positive"], ["neutral", "negative"])
    0.5
    """
    if not truth:
        return 0.0
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def per_class_f1(matrix: list[list[int]]) -> list[float]:
    scores = []
    for k in range(len(matrix)):
        tp = matrix[k][k]
        predicted = sum(row[k] for row in matrix)
        actual = sum(matrix[k])
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return scores


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean of the per-class F1 (classes absent from both truth and prediction count as 0).

    >>> round(macro_f1(["negative", "neutral", "positive"], ["negative", "neutral", "neutral"]), 4)
    0.5556
    """
    scores = per_class_f1(confusion(truth, predicted))
    return sum(scores) / len(scores)


def macro_f1_ids(truth: Any, predicted: Any) -> float:
    """Macro-F1 over class ids 0..2 (numpy arrays): the fast form for threshold searches and bootstraps.

    >>> import numpy as np
    >>> round(macro_f1_ids(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 1])), 4)
    0.7778
    """
    import numpy as np

    counts = np.bincount(np.asarray(truth) * 3 + np.asarray(predicted), minlength=9).reshape(3, 3)
    scores = per_class_f1(counts.tolist())
    return sum(scores) / len(scores)
