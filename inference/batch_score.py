"""Offline batch scoring (``radar model score``): a CSV of texts in, their sentiment out, with the served runtime.

Each row is scored by the model of its language (``lang`` if given, else what the text shows: :mod:`core.language`),
toward its ``entity`` where it names one and the model reads pairs. A row that cannot be scored (no text, a
language given that we have no model for) keeps its columns and gets an ``error``; it never stops the file. A text
whose language was not given and is neither Chinese nor English (``und``), or Chinese with no Chinese model, is
scored by the English model, the documented fallback; ``lang`` and ``model`` say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.language import LANGS, resolve_lang

__all__ = ["OUTPUT_COLUMNS", "Scorer", "score_rows"]

OUTPUT_COLUMNS = ("negative", "neutral", "positive", "lang", "model", "error")


@dataclass(frozen=True)
class Scorer:
    """One language's model: ``predict(texts, targets)`` -> rows of [negative, neutral, positive]."""

    label: str
    predict: Callable[[Sequence[str], Sequence[str] | None], Any]


def score_rows(
    rows: Iterable[Mapping[str, str]], scorers: Mapping[str, Scorer], *, chunk: int = 256
) -> list[dict[str, str]]:
    """The rows with the output columns added, in input order.

    >>> en = Scorer("en/1", lambda texts, targets: [[0.1, 0.2, 0.7] for _ in texts])
    >>> rows = [{"id": "1", "text": "good"}, {"id": "2", "text": " "}, {"id": "3", "text": "x", "lang": "xx"}]
    >>> out = score_rows(rows, {"en": en})
    >>> [(r["id"], r["positive"], r["lang"], r["model"], r["error"]) for r in out]
    [('1', '0.700000', 'en', 'en/1', ''), ('2', '', '', '', 'no text'), ('3', '', 'xx', '', 'no model for lang xx')]
    """
    out: list[dict[str, str]] = []
    todo: dict[str, list[int]] = {}
    for row in rows:
        record = {**row, **dict.fromkeys(OUTPUT_COLUMNS, "")}
        text = (row.get("text") or "").strip()
        declared = (row.get("lang") or "").strip()
        if not text:
            record["error"] = "no text"
        else:
            lang = resolve_lang(declared or None, text)
            record["lang"] = lang
            model = lang if lang in LANGS and lang in scorers else ("en" if not declared and "en" in scorers else None)
            if model is None:
                record["error"] = f"no model for lang {lang}"
            else:
                todo.setdefault(model, []).append(len(out))
        out.append(record)
    for model, positions in todo.items():
        scorer = scorers[model]
        for start in range(0, len(positions), chunk):
            part = positions[start : start + chunk]
            texts = [out[i]["text"] for i in part]
            targets = [(out[i].get("entity") or "").strip() for i in part]
            for i, probs in zip(part, scorer.predict(texts, targets), strict=True):
                out[i].update(
                    negative=f"{float(probs[0]):.6f}",
                    neutral=f"{float(probs[1]):.6f}",
                    positive=f"{float(probs[2]):.6f}",
                    model=scorer.label,
                )
    return out
