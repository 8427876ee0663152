"""Financial figures per language, beside their baselines: what ``radar model evaluate`` and ``bench/`` report.

- Chinese (zh-fin-neg's task): for each (text, entity) pair, is the text negative about the entity (entity-level
  F1, class "negative"), and is the text negative at all (text-level F1). The baseline is the data README's:
  character 1-3-gram TF-IDF + logistic regression on the text, every entity of a negative text marked negative
  except one contained in another. The same containment rule is applied to the model's judgements.
- English financial tweets: macro-F1 of the three classes, beside VADER.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inference.fin_data import PairExample, ZhFinRow, without_contained
from inference.labels import LABELS
from inference.metrics import macro_f1

__all__ = ["f1", "fin_tweet_figures", "model_judgements", "score_entities", "tfidf_entity_baseline"]


def f1(truth: Sequence[bool], predicted: Sequence[bool]) -> float:
    """F1 of the positive class.

    >>> f1([True, True, False], [True, False, True])
    0.5
    """
    tp = sum(t and p for t, p in zip(truth, predicted, strict=True))
    fp = sum(p and not t for t, p in zip(truth, predicted, strict=True))
    fn = sum(t and not p for t, p in zip(truth, predicted, strict=True))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def score_entities(rows: Sequence[ZhFinRow], negative_of: dict[str, set[str]]) -> dict[str, float]:
    """Entity-level F1 over every (text, entity) pair and text-level F1, from the entities judged negative per text.

    >>> rows = [ZhFinRow("1", "t", ("A", "B"), True, frozenset({"A"})), ZhFinRow("2", "t", ("C",), False, frozenset())]
    >>> score_entities(rows, {"1": {"A"}, "2": {"C"}})
    {'entity_f1': 0.6667, 'text_f1': 0.6667}
    """
    truth_pairs, predicted_pairs, truth_text, predicted_text = [], [], [], []
    for row in rows:
        chosen = negative_of.get(row.id, set())
        for entity in row.entities:
            truth_pairs.append(entity in row.key_entities)
            predicted_pairs.append(entity in chosen)
        truth_text.append(row.negative)
        predicted_text.append(bool(chosen))
    return {
        "entity_f1": round(f1(truth_pairs, predicted_pairs), 4),
        "text_f1": round(f1(truth_text, predicted_text), 4),
    }


def tfidf_entity_baseline(train: Sequence[ZhFinRow], test: Sequence[ZhFinRow]) -> dict[str, set[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectoriser = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True)
    x = vectoriser.fit_transform([r.text for r in train])
    classifier = LogisticRegression(max_iter=2000, C=10.0).fit(x, [r.negative for r in train])
    judged = classifier.predict(vectoriser.transform([r.text for r in test]))
    return {
        r.id: without_contained(r.entities, r.entities) if neg else set() for r, neg in zip(test, judged, strict=True)
    }


def model_judgements(
    model_dir: Path, test: Sequence[ZhFinRow], threshold: float | None, *, onnx_file: str | None = None
) -> dict[str, set[str]]:
    """The entities judged negative per text: by the most probable class, or p(negative) >= ``threshold``."""
    from inference.pair_train import predict_pairs

    pairs = [(row.text, entity) for row in test for entity in row.entities]
    probs = iter(predict_pairs(model_dir, pairs, onnx_file=onnx_file))
    out: dict[str, set[str]] = {}
    for row in test:
        negative = []
        for entity in row.entities:
            p = next(probs)
            if (p[0] >= threshold) if threshold is not None else (p[0] == max(p)):
                negative.append(entity)
        out[row.id] = without_contained(row.entities, negative)
    return out


def fin_tweet_figures(
    model_dir: Path, valid: Sequence[PairExample], *, onnx_file: str | None = None
) -> dict[str, float]:
    """Macro-F1 of the model and of VADER on the financial tweets' valid split."""
    from inference.evaluate import vader_labels
    from inference.pair_train import predict_pairs

    truth = [e.label for e in valid]
    probs = predict_pairs(model_dir, [(e.text, "") for e in valid], onnx_file=onnx_file)
    predicted = [LABELS[max(range(3), key=lambda k: row[k])] for row in probs]
    return {
        "texts": len(valid),
        "model_macro_f1": round(macro_f1(truth, predicted), 4),
        "vader_macro_f1": round(macro_f1(truth, vader_labels([e.text for e in valid])), 4),
    }
