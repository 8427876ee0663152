"""The model contract's label order (ARCHITECTURE.md): PROBS = [negative, neutral, positive]."""

from __future__ import annotations

__all__ = ["LABELS", "LABEL_TO_ID", "label_of", "score_of"]

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")
LABEL_TO_ID = {label: i for i, label in enumerate(LABELS)}


def label_of(probs: list[float] | tuple[float, float, float]) -> str:
    """The most probable label.

    >>> label_of([0.1, 0.2, 0.7])
    'positive'
    """
    best = max(range(3), key=lambda i: probs[i])
    return LABELS[best]


def score_of(probs: list[float] | tuple[float, float, float]) -> float:
    """p(pos) - p(neg), the signed sentiment in [-1, 1] of the scored-event contract.

    >>> round(score_of([0.1, 0.2, 0.7]), 6)
    0.6
    """
    return float(probs[2]) - float(probs[0])
