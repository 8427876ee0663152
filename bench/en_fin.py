"""English financial text: macro-F1 on the financial tweets' valid split and on the VADER test split, model vs
baselines, side by side.

    EN_FIN_TWEETS_DIR=/path/to/en-fin-tweets uv run python -m bench.en_fin [--epochs 2] [--two-firm 2000]
        [--json PATH]

Baselines: VADER (the lexicon analysts know) and word 1-2-gram TF-IDF + logistic regression trained on the tweets'
train split (the data README's 0.771). The model is all-MiniLM-L6-v2 fine-tuned on the VADER training split and
the tweets' train split together (:mod:`inference.pair_train`), cached under ``<cache>/models/en-fin-*``; the
VADER-only model that Triton serves today is scored beside it when there is one.

It reads (text, target) pairs, as the Chinese model does: each tweet that names one cashtag is also a pair toward
it, and ``--two-firm`` texts join two train tweets of different labels about two made-up tickers
(:func:`inference.fin_data.two_firm_pairs`). The *two firms* row scores the same construction on the valid split:
macro-F1 of the sentiment toward each ticker, the pair model beside a text-level reading (the same model on the text
alone, which can only give both firms one sentiment) and VADER.
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
from inference.fin_data import PairExample, cashtag_pairs, fin_tweet_examples, two_firm_pairs
from inference.metrics import macro_f1

GOALS = {"fin-tweets": "0.88", "vader-sets": "0.80", "two firms (valid)": "-"}
MARKER = "§"


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

    config = PairConfig(epochs=epochs, max_length=128, max_chars=600, lr=8e-5, layer_decay=1.0, marker=MARKER)
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
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--two-firm", type=int, default=2000, help="two-firm texts made from train tweets (0: none)")
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
    pairs = cashtag_pairs(tweets_train) + two_firm_pairs(tweets_train, count=args.two_firm) if args.two_firm else []
    model_dir = trained_model(settings, vader_train + tweets_train + pairs, args.epochs)
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
    two_firm = two_firm_pairs(tweets_valid, count=600, seed=99)
    truth = [e.label for e in two_firm]
    figures["two firms (valid)"] = {
        k: round(v, 4)
        for k, v in {
            "vader": macro_f1(truth, vader_labels([e.text for e in two_firm])),
            "text_level": macro_f1(truth, _argmax_labels(runtime.predict([e.text for e in two_firm]))),
            "model": macro_f1(
                truth, _argmax_labels(runtime.predict([e.text for e in two_firm], [e.target for e in two_firm]))
            ),
        }.items()
    }
    columns = [
        "set",
        "VADER",
        "TF-IDF + LR (tweets)",
        "served (VADER sets only)",
        "same model, text alone",
        "MiniLM fin+VADER (pairs)",
        "goal",
    ]
    keys = ("vader", "tfidf_lr", "served_vader_only", "text_level", "model")
    rows = [
        [name, *(f"{f[k]:.3f}" if k in f else "-" for k in keys), GOALS[name]]
        for name, f in ((n, figures[n]) for n in (*sets, "two firms (valid)"))
    ]
    print_table("English macro-F1", columns, rows)
    write_json(args.json, figures)
    en_fin_pointer(settings).write_text(str(model_dir))  # the demo's setup exports and serves it (model_setup)


if __name__ == "__main__":
    main()
