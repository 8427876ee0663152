"""The GPU repository's configs parse with Triton's own ModelConfig schema and keep the model contract, per language;
its tokenizer step encodes a (text, target) pair exactly as the CPU runtime does."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from inference.runtime import SentimentRuntime, encode_inputs
from inference.tiny_model import build_tiny_model
from inference.triton_repo_gpu import build_gpu_repository, gpu_configs

STRING, INT64 = model_config_pb2.TYPE_STRING, model_config_pb2.TYPE_INT64


def _parsed(name: str, pairs: bool) -> dict[str, Any]:
    parsed = {}
    for model, text in gpu_configs(name=name, pairs=pairs).items():
        config = model_config_pb2.ModelConfig()
        text_format.Parse(text, config)
        parsed[model] = config
        assert config.name == model and config.max_batch_size >= 64
    return parsed


@pytest.mark.parametrize(("name", "pairs"), [("sentiment", False), ("sentiment_zh", True)])
def test_every_config_is_a_valid_triton_model_config(name: str, pairs: bool) -> None:
    parsed = _parsed(name, pairs)
    ensemble = parsed[name]
    assert ensemble.platform == "ensemble"
    strings = ["TEXT", "TARGET"] if pairs else ["TEXT"]
    assert [(i.name, i.data_type, list(i.dims)) for i in ensemble.input] == [(s, STRING, [1]) for s in strings]
    assert [(o.name, o.data_type, list(o.dims)) for o in ensemble.output] == [
        ("PROBS", model_config_pb2.TYPE_FP32, [3])
    ]
    assert ensemble.parameters["pairs"].string_value == ("true" if pairs else "false")  # what the workers read
    steps = [s.model_name for s in ensemble.ensemble_scheduling.step]
    assert steps == [f"{name}_tokenizer", f"{name}_onnx", f"{name}_post"]
    encoded = ["input_ids", "attention_mask", *(["token_type_ids"] if pairs else [])]
    assert [o.name for o in parsed[f"{name}_tokenizer"].output] == encoded
    assert [i.name for i in parsed[f"{name}_onnx"].input] == encoded
    assert dict(ensemble.ensemble_scheduling.step[1].input_map) == {n: n for n in encoded}
    trt = parsed[f"{name}_onnx"].optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert trt.name == "tensorrt" and trt.parameters["precision_mode"] == "FP16"
    assert parsed[f"{name}_onnx"].instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU


class _Tensor:
    def __init__(self, name: str, array: np.ndarray) -> None:
        self.name, self.array = name, array

    def as_numpy(self) -> np.ndarray:
        return self.array


def _fake_backend() -> types.ModuleType:
    """Triton's python-backend utilities, as far as the tokenizer step uses them (the real ones exist only inside
    the server): tensors by name in, tensors out."""
    module = types.ModuleType("triton_python_backend_utils")
    module.Tensor = _Tensor  # type: ignore[attr-defined]
    module.InferenceResponse = lambda output_tensors: {t.name: t.array for t in output_tensors}  # type: ignore[attr-defined]
    module.get_input_tensor_by_name = lambda request, name: request.get(name)  # type: ignore[attr-defined]
    return module


def test_the_gpu_tokenizer_encodes_pairs_as_the_cpu_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    targeted = {"pairs": True, "lang": "zh", "max_length": 64, "max_chars": 12, "marker": "§"}
    export = build_tiny_model(tmp_path / "export", targeted=targeted)
    (export / "model.onnx").write_bytes(b"the ONNX step's file; the tokenizer step never reads it")
    repo = build_gpu_repository(export, tmp_path / "gpu", name="sentiment_zh")
    step = repo / "sentiment_zh_tokenizer" / "1"
    assert json.loads((step / "tokenizer" / "targeted.json").read_text())["marker"] == "§"
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", _fake_backend())
    monkeypatch.syspath_prepend(str(step))
    monkeypatch.delitem(sys.modules, "model", raising=False)
    import model  # the step's model.py, as Triton loads it

    tokenizer_step = model.TritonPythonModel()
    config = {"parameters": {"max_length": {"string_value": "64"}}}
    tokenizer_step.initialize(
        {"model_repository": str(step.parent), "model_version": "1", "model_config": json.dumps(config)}
    )
    texts = ["ACME sues GLBX over unpaid loans, a long story that goes on", "plain text"]
    targets = ["GLBX", ""]
    request = {
        "TEXT": _Tensor("TEXT", np.array([t.encode() for t in texts], dtype=object).reshape(-1, 1)),
        "TARGET": _Tensor("TARGET", np.array([t.encode() for t in targets], dtype=object).reshape(-1, 1)),
    }
    [out] = tokenizer_step.execute([request])
    cpu = SentimentRuntime(export, backend="torch")
    ids, segments = encode_inputs(
        cpu.tokenizer, texts, targets, max_chars=cpu.max_chars, max_length=64, marker=cpu.marker
    )
    for row in range(2):
        n = int(out["attention_mask"][row].sum())
        assert out["input_ids"][row, :n].tolist() == ids[row]
        assert out["token_type_ids"][row, :n].tolist() == segments[row]
    assert "§" in cpu.tokenizer.decode(ids[0]) and 1 in segments[0]  # the target marked, and a second segment
