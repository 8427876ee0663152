"""The real tritonserver answers a batch of 64 texts over async gRPC with the probabilities the model gives."""

from __future__ import annotations

import numpy as np

from inference.model_store import tiny_model_dir, tiny_zh_model_dir
from inference.runtime import SentimentRuntime
from inference.triton_client import TritonSentimentClient

TEXTS = [f"{w} product, {i} stars" for i, w in enumerate(["great", "awful", "okay", "amazing"] * 16)]


async def test_triton_grpc_async_batch_of_64(stack) -> None:  # type: ignore[no-untyped-def]
    client = TritonSentimentClient(stack.triton_grpc_url, stack.model_name)
    info = await client.init()
    assert info.max_batch_size >= 64
    probs = await client.infer(TEXTS)
    await client.close()
    assert probs.shape == (64, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    expected = SentimentRuntime(tiny_model_dir(stack)).predict(TEXTS)
    np.testing.assert_allclose(probs, expected, atol=1e-4)


PAIRS = [
    ("甲银行起诉乙地产：乙地产逾期未兑付债券，甲银行计提减值", "乙地产"),
    ("甲银行起诉乙地产：乙地产逾期未兑付债券，甲银行计提减值", "甲银行"),
    ("甲银行起诉乙地产：乙地产逾期未兑付债券，甲银行计提减值", ""),
    ("贵州茅台(600519.SH)一季度净利润同比增长", "贵州茅台"),
]


async def test_the_chinese_model_reads_each_text_toward_its_target(stack) -> None:  # type: ignore[no-untyped-def]
    """The pair contract through the real server: TARGET reaches the model, which reads (target, text) pairs."""
    client = TritonSentimentClient(stack.triton_grpc_url, stack.model_name_zh)
    info = await client.init()
    assert (info.takes_target, info.pairs) == (True, True)
    texts, targets = [t for t, _ in PAIRS], [g for _, g in PAIRS]
    probs = await client.infer(texts, targets)
    await client.close()
    expected = SentimentRuntime(tiny_zh_model_dir(stack)).predict(texts, targets)
    np.testing.assert_allclose(probs, expected, atol=1e-4)
    assert not np.allclose(probs[0], probs[1], atol=1e-4)  # one text, two targets, two answers


async def test_a_text_level_model_declares_it_reads_no_pairs(stack) -> None:  # type: ignore[no-untyped-def]
    client = TritonSentimentClient(stack.triton_grpc_url, stack.model_name)
    info = await client.init()
    probs = await client.infer(TEXTS[:2], ["ignored", "ignored"])  # a target sent to it changes nothing
    await client.close()
    assert (info.takes_target, info.pairs) == (True, False)
    np.testing.assert_allclose(probs, SentimentRuntime(tiny_model_dir(stack)).predict(TEXTS[:2]), atol=1e-4)
