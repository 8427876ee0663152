"""The mean-pooling head: pads never change a text's answer, and every torch path rebuilds the saved class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from inference.classifier import MEAN_POOL_ARCHITECTURE, load_classifier
from inference.export import export_onnx
from inference.runtime import SentimentRuntime
from inference.tiny_model import build_tiny_model


@pytest.fixture(scope="module")
def mean_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-mean", pooling="mean")


def test_padding_does_not_change_the_answer(mean_tiny: Path) -> None:
    model = load_classifier(mean_tiny).eval()
    ids = torch.tensor([[101, 2204, 3185, 102]])
    padded = torch.tensor([[101, 2204, 3185, 102, 0, 0, 0]])
    with torch.inference_mode():
        alone = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        with_pads = model(input_ids=padded, attention_mask=torch.tensor([[1, 1, 1, 1, 0, 0, 0]])).logits
        pads_counted = model(input_ids=padded, attention_mask=torch.ones_like(padded)).logits
    torch.testing.assert_close(alone, with_pads, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(alone, pads_counted, atol=1e-4)  # the mask, not luck, keeps pads out


def test_the_saved_class_is_rebuilt(mean_tiny: Path, tmp_path: Path) -> None:
    model = load_classifier(mean_tiny)
    assert type(model).__name__ == MEAN_POOL_ARCHITECTURE
    assert model.bert.pooler is None
    stock = load_classifier(build_tiny_model(tmp_path / "tiny-cls", pooling="cls"))
    assert type(stock).__name__ == "BertForSequenceClassification"


def test_torch_and_onnx_agree_on_the_mean_pool_model(mean_tiny: Path, tmp_path: Path) -> None:
    exported = export_onnx(mean_tiny, tmp_path / "export")
    texts = ["what a great phone", "the service was awful and slow", "ok", "a long and winding sentence " * 5]
    torch_probs = SentimentRuntime(mean_tiny, backend="torch").predict(texts)
    onnx_probs = SentimentRuntime(exported.directory, backend="onnx").predict(texts)
    np.testing.assert_allclose(torch_probs, onnx_probs, atol=1e-5)
