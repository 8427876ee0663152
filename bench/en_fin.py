"""English financial text: macro-F1 on the financial tweets' valid split and on the VADER test split, model vs
baselines, side by side.

    EN_FIN_TWEETS_DIR=/path/to/en-fin-tweets uv run python -m bench.en_fin [--epochs 1] [--json PATH]

Baselines: VADER (the lexicon analysts know) and word 1-2-gram TF-IDF + logistic regression trained on the tweets'
train split (the data README's 0.771). The model is all-MiniLM-L6-v2 fine-tuned on the VADER training split and
the tweets' train split together (:mod:`inference.pair_train`, text-level examples), cached under
``<cache>/models/en-fin-*``; the VADER-only model that Triton serves today is scored beside it when there is one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from bench.common import console, print_table, write_json
from core.settings import Settings
from inference.dataset import Example, current_data_dir, load_split, prepare
from inference.fin_data import PairExample, fin_tweet_examples
from inference.metrics import macro_f1

GOALS = {"fin-tweets": "0.88", "vader-sets": "0.80"}


def _pairs(examples: list[Example]) -> list[PairExample]:
    return [PairExample(e.id, e.domain, e.text, "", e.label, "en") for e in examples]


def _argmax_labels(probs: Any) -> list[str]:
    labels = ("negative", "neutral", "positive")
    return [labels[max(range(3), key=lambda k: row[k])] for row in probs]


def tfidf_labels(train: list[PairExample], test: list[PairExample]) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectoriser = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    x = vectoriser.fit_transform([e.text for e in train])
    classifier = LogisticRegression(max_iter=3000, C=10.0).fit(x, [e.label for e in train])
    return list(classifier.predict(vectoriser.transform([e.text for e in test])))


def trained_model(settings: Settings, examples: list[PairExample], epochs: int) -> Path:
    from inference.base_encoder import base_encoder_dir
    from inference.pair_train import PairConfig, train_pairs

    config = PairConfig(epochs=epochs, max_length=128, max_chars=600, lr=8e-5, layer_decay=1.0)
    key = hashlib.sha256(json.dumps([len(examples), examples[0].id, repr(config)]).encode()).hexdigest()[:12]
    out_dir = settings.cache_dir / "models" / f"en-fin-{key}"
    if (out_dir / "training.json").exists():
        return out_dir

    def progress(stage: str, step: int, total: int, figures: dict[str, float]) -> None:
        if step % 50 == 0 or step == total:
            console.print(f"{stage}: {step}/{total} loss {figures['loss']:.4f}")

    train_pairs(base_encoder_dir(), examples, out_dir, config, lang="en", progress=progress)
    return out_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    where = os.environ.get("EN_FIN_TWEETS_DIR")
    if not where:
        raise SystemExit("set EN_FIN_TWEETS_DIR to the en-fin-tweets folder (its README says what it is)")
    from inference.evaluate import vader_labels
    from inference.model_store import en_fin_pointer, resolve_serving_model, tiny_model_dir
    from inference.runtime import SentimentRuntime

    settings = Settings()
    prepare(settings.cache_dir)
    data = current_data_dir(settings.cache_dir)
    vader_train, vader_test = _pairs(load_split(data, "train")), _pairs(load_split(data, "test"))
    tweets_train, tweets_valid = fin_tweet_examples(Path(where))
    sets = {"fin-tweets": tweets_valid, "vader-sets": vader_test}
    model_dir = trained_model(settings, vader_train + tweets_train, args.epochs)
    runtime = SentimentRuntime(model_dir, backend="torch", sub_batch=16)
    figures: dict[str, Any] = {"model_dir": str(model_dir)}
    served = resolve_serving_model(settings)
    trained = served != model_dir and served != tiny_model_dir(settings)  # the tiny random model is no baseline
    served_runtime = SentimentRuntime(served, backend="torch", sub_batch=16) if trained else None
    for name, test in sets.items():
        texts, truth = [e.text for e in test], [e.label for e in test]
        row = {
            "vader": macro_f1(truth, vader_labels(texts)),
            "tfidf_lr": macro_f1(truth, tfidf_labels(tweets_train, test)),
            "model": macro_f1(truth, _argmax_labels(runtime.predict(texts))),
        }
        if served_runtime is not None:
            row["served_vader_only"] = macro_f1(truth, _argmax_labels(served_runtime.predict(texts)))
        figures[name] = {k: round(v, 4) for k, v in row.items()}
    columns = ["set", "VADER", "TF-IDF + LR (tweets)", "served (VADER sets only)", "MiniLM fin+VADER", "goal"]
    rows = [
        [
            name,
            *(f"{f[k]:.3f}" if k in f else "-" for k in ("vader", "tfidf_lr", "served_vader_only", "model")),
            GOALS[name],
        ]
        for name, f in ((n, figures[n]) for n in sets)
    ]
    print_table("English macro-F1", columns, rows)
    write_json(args.json, figures)
    en_fin_pointer(settings).write_text(str(model_dir))  # the demo's setup exports and serves it (model_setup)


if __name__ == "__main__":
    main()
