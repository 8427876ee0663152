"""The real tritonserver answers a batch of 64 texts over async gRPC with the probabilities the model gives."""

from __future__ import annotations

import numpy as np

from inference.model_store import tiny_model_dir
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
