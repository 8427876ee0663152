"""The Triton repository builder and the runtime it ships, on the tiny model (no server needed)."""

import numpy as np
import pytest

from inference.export import export_onnx
from inference.runtime import SentimentRuntime
from inference.tiny_model import build_tiny_model
from inference.triton_repo import CpuRepositoryOptions, build_cpu_repository


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):  # type: ignore[no-untyped-def]
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


def test_versions_are_added_only_when_the_model_changes(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root, version = build_cpu_repository(tiny, tmp_path / "repo")
    assert version == 1
    assert (root / "1" / "model.py").exists() and (root / "1" / "sentiment_runtime.py").exists()
    assert (root / "1" / "artifacts" / "tokenizer.json").exists()
    assert build_cpu_repository(tiny, tmp_path / "repo")[1] == 1
    _, version = build_cpu_repository(tiny, tmp_path / "repo", CpuRepositoryOptions(max_queue_delay_us=500))
    assert version == 2
    config = (root / "config.pbtxt").read_text()
    assert "max_queue_delay_microseconds: 500" in config and 'backend: "python"' in config


def test_length_sorted_batches_give_the_same_answers(tiny) -> None:  # type: ignore[no-untyped-def]
    runtime = SentimentRuntime(tiny, sub_batch=4)
    texts = ["ok", "a much longer sentence about the quarterly results " * 5, "bad", "", "fine, I guess"] * 3
    batched = runtime.predict(texts)
    one_by_one = np.concatenate([runtime.predict([t]) for t in texts])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert batched.shape == (15, 3)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-5)


def test_the_onnx_runtime_s_threads_do_not_spin_between_runs(tiny, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two served models on a few cores: pool threads that spin between runs take the cores Kafka and the worker
    need (bench.pipeline: p99 at half the maximum 692-719 ms spinning, 332 ms not)."""
    export = export_onnx(tiny, tmp_path / "export")
    runtime = SentimentRuntime(tmp_path / "export", backend="onnx", onnx_file=export.int8.name)
    options = runtime._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
