"""The model contract's label order, for the training and evaluation code: a view of :class:`core.domain.Label`,
where the order is declared once (PROBS = [negative, neutral, positive]).

>>> LABELS, LABEL_TO_ID["positive"]
(('negative', 'neutral', 'positive'), 2)
"""

from __future__ import annotations

from core.domain import LABELS, Label

__all__ = ["LABELS", "LABEL_TO_ID"]

LABEL_TO_ID: dict[str, int] = {label.value: label.position for label in Label}
