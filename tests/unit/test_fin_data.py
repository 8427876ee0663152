"""The financial data readers on small fixtures of our own (the real sets are read from a path: ZH_FIN_NEG_DIR and
EN_FIN_TWEETS_DIR point at the data sets' folders, as the README's "Data sets" says; bench.zh_fin measures on them)."""

from __future__ import annotations

from pathlib import Path

from inference.fin_data import read_fin_tweets, read_zh_fin_neg, split_rows, zh_pairs

ZH = (
    "id,text,entity,negative,key_entity\n"
    'a1,"小资钱包逾期, 不回本金",小资钱包;资易贷,1,小资钱包\n'
    "a2,京东白条提现,京东白条,0,\n"
    'a3,"多行\n文本 茅台 贵州茅台",茅台;贵州茅台,1,贵州茅台\n'
)


def test_zh_fin_neg_becomes_one_example_per_text_and_entity(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(ZH, encoding="utf-8")
    rows = read_zh_fin_neg(tmp_path)
    assert [r.entities for r in rows] == [("小资钱包", "资易贷"), ("京东白条",), ("茅台", "贵州茅台")]
    pairs = {(p.id, p.label) for p in zh_pairs(rows)}
    assert pairs == {
        ("a1:小资钱包", "negative"),
        ("a1:资易贷", "neutral"),
        ("a2:京东白条", "neutral"),
        ("a3:茅台", "neutral"),
        ("a3:贵州茅台", "negative"),
    }
    train, test = split_rows(rows, test_fraction=0.34, seed=3)
    assert sorted(r.id for r in train + test) == ["a1", "a2", "a3"] and test


def test_fin_tweets_map_bearish_bullish_neutral(tmp_path: Path) -> None:
    (tmp_path / "valid.csv").write_text("text,label\n$X cut,0\n$Y upgraded,1\n$Z holds,2\n,1\n", encoding="utf-8")
    assert [(e.text, e.label) for e in read_fin_tweets(tmp_path, "valid")] == [
        ("$X cut", "negative"),
        ("$Y upgraded", "positive"),
        ("$Z holds", "neutral"),
    ]


def _shared(variable: str) -> Path:
    import os

    import pytest

    where = os.environ.get(variable)
    if not where:
        pytest.skip(f"set {variable} to the data set's folder (README, Data sets)")
    return Path(where)


def test_the_real_zh_fin_neg_reads_whole() -> None:
    rows = read_zh_fin_neg(_shared("ZH_FIN_NEG_DIR"))
    assert len(rows) == 3999
    assert 2.0 < sum(len(r.entities) for r in rows) / len(rows) < 2.6
    assert 0.5 < sum(r.negative for r in rows) / len(rows) < 0.6
    assert all(r.key_entities <= set(r.entities) or not r.negative for r in rows[:500])


def test_the_real_fin_tweets_read_whole() -> None:
    from inference.fin_data import fin_tweet_examples

    train, valid = fin_tweet_examples(_shared("EN_FIN_TWEETS_DIR"))
    assert len(train) == 9543 and len(valid) > 2300
