"""The financial figures of ``radar model evaluate`` on fixtures of our own, with the tiny models the stack serves
(real tokenizers, random weights): the plumbing from rows to figures, not the figures of a trained model."""

from __future__ import annotations

from pathlib import Path

from core.settings import Settings
from inference.fin_data import read_fin_tweets, read_zh_fin_neg
from inference.fin_eval import fin_tweet_figures, model_judgements, score_entities
from inference.model_store import tiny_model_dir, tiny_zh_model_dir
from services.cli.model import _financial_figures

ZH = "id,text,entity,negative,key_entity\n" + "".join(
    f'z{i},"{name}逾期{i}天, 不回本金",{name};资易贷,1,{name}\n' if i % 2 else f"z{i},{name}提现{i},{name},0,\n"
    for i, name in enumerate(["小资钱包", "京东白条", "贵州茅台", "华信银行", "东岳地产"] * 4)
)
TWEETS = "text,label\n" + "".join(
    f"$X{i} {w},{label}\n" for i, (w, label) in enumerate([("cut", 0), ("up", 1), ("holds", 2)] * 5)
)


def test_the_chinese_judgements_name_only_entities_of_their_text(stack: Settings, tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text(ZH, encoding="utf-8")
    rows = read_zh_fin_neg(tmp_path)
    judged = model_judgements(tiny_zh_model_dir(stack), rows, None)
    assert set(judged) == {r.id for r in rows}
    assert all(judged[r.id] <= set(r.entities) for r in rows)
    everything = score_entities(rows, {r.id: set(r.key_entities) for r in rows})
    assert everything == {"entity_f1": 1.0, "text_f1": 1.0}
    figures = score_entities(rows, judged)
    assert 0.0 <= figures["entity_f1"] <= 1.0 and 0.0 <= figures["text_f1"] <= 1.0


def test_financial_tweets_are_scored_beside_vader(stack: Settings, tmp_path: Path) -> None:
    (tmp_path / "valid.csv").write_text(TWEETS, encoding="utf-8")
    figures = fin_tweet_figures(tiny_model_dir(stack), read_fin_tweets(tmp_path, "valid"))
    assert figures["texts"] == 15
    assert 0.0 <= figures["model_macro_f1"] <= 1.0 and 0.0 <= figures["vader_macro_f1"] <= 1.0


def test_evaluate_reports_each_language_it_is_given_data_for(stack: Settings, tmp_path: Path) -> None:
    zh, en = tmp_path / "zh", tmp_path / "en"
    zh.mkdir()
    en.mkdir()
    (zh / "train.csv").write_text(ZH, encoding="utf-8")
    (en / "valid.csv").write_text(TWEETS, encoding="utf-8")
    assert _financial_figures(stack, tiny_model_dir(stack), None, None) == {}
    both = _financial_figures(stack, tiny_model_dir(stack), zh, en)
    assert both["zh_fin_neg"]["held_out_texts"] == 4  # 20% of the 20 texts, split by text  # type: ignore[index]
    assert set(both["zh_fin_neg"]["baseline"]) == {"entity_f1", "text_f1"}  # type: ignore[index]
    assert both["en_fin_tweets"]["texts"] == 15  # type: ignore[index]
