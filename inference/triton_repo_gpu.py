"""The production GPU model repository: an ensemble named ``sentiment`` with the same contract as the CPU one
(TEXT string -> PROBS fp32[3]), built from an export directory (``radar model export``).

    sentiment (ensemble)  =  sentiment_tokenizer (python, CPU)  ->  sentiment_onnx (ONNX Runtime, GPU, TensorRT
                              fp16)  ->  sentiment_post (python: softmax, contract order)

Build it with ``radar model gpu-repo OUT`` and serve it with NVIDIA's Triton image (deploy/compose, deploy/k8s).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.domain import LABELS

__all__ = ["build_gpu_repository", "gpu_configs"]

_SERVING = Path(__file__).resolve().parent / "serving"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def gpu_configs(*, max_batch_size: int = 64, max_length: int = 128, queue_delay_us: int = 1000) -> dict[str, str]:
    """config.pbtxt of each model of the ensemble."""
    return {
        "sentiment": f"""name: "sentiment"
platform: "ensemble"
max_batch_size: {max_batch_size}
input [ {{ name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] }} ]
output [ {{ name: "PROBS" data_type: TYPE_FP32 dims: [ 3 ] }} ]
ensemble_scheduling {{
  step [
    {{ model_name: "sentiment_tokenizer" model_version: -1
      input_map {{ key: "TEXT" value: "TEXT" }}
      output_map {{ key: "input_ids" value: "ids" }}
      output_map {{ key: "attention_mask" value: "mask" }} }},
    {{ model_name: "sentiment_onnx" model_version: -1
      input_map {{ key: "input_ids" value: "ids" }}
      input_map {{ key: "attention_mask" value: "mask" }}
      output_map {{ key: "logits" value: "logits" }} }},
    {{ model_name: "sentiment_post" model_version: -1
      input_map {{ key: "LOGITS" value: "logits" }}
      output_map {{ key: "PROBS" value: "PROBS" }} }}
  ]
}}
""",
        "sentiment_tokenizer": f"""name: "sentiment_tokenizer"
backend: "python"
max_batch_size: {max_batch_size}
input [ {{ name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] }} ]
output [ {{ name: "input_ids" data_type: TYPE_INT64 dims: [ {max_length} ] }},
         {{ name: "attention_mask" data_type: TYPE_INT64 dims: [ {max_length} ] }} ]
instance_group [ {{ count: 2 kind: KIND_CPU }} ]
dynamic_batching {{ max_queue_delay_microseconds: {queue_delay_us} }}
parameters: {{ key: "max_length" value: {{ string_value: "{max_length}" }} }}
""",
        "sentiment_onnx": f"""name: "sentiment_onnx"
platform: "onnxruntime_onnx"
max_batch_size: {max_batch_size}
input [ {{ name: "input_ids" data_type: TYPE_INT64 dims: [ {max_length} ] }},
        {{ name: "attention_mask" data_type: TYPE_INT64 dims: [ {max_length} ] }} ]
output [ {{ name: "logits" data_type: TYPE_FP32 dims: [ 3 ] }} ]
instance_group [ {{ count: 1 kind: KIND_GPU }} ]
dynamic_batching {{ max_queue_delay_microseconds: {queue_delay_us} preferred_batch_size: [ 32, {max_batch_size} ] }}
optimization {{ execution_accelerators {{ gpu_execution_accelerator: [ {{
  name: "tensorrt"
  parameters {{ key: "precision_mode" value: "FP16" }}
  parameters {{ key: "max_workspace_size_bytes" value: "2147483648" }}
  parameters {{ key: "trt_engine_cache_enable" value: "1" }}
}} ] }} }}
""",
        "sentiment_post": f"""name: "sentiment_post"
backend: "python"
max_batch_size: {max_batch_size}
input [ {{ name: "LOGITS" data_type: TYPE_FP32 dims: [ 3 ] }} ]
output [ {{ name: "PROBS" data_type: TYPE_FP32 dims: [ 3 ] }} ]
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
""",
    }


def build_gpu_repository(export_dir: Path, out_dir: Path, *, max_length: int = 128) -> Path:
    """Lay out the ensemble; the fp32 ONNX is used (TensorRT builds its own fp16 engine from it)."""
    config = json.loads((export_dir / "config.json").read_text())
    id2label = {int(k): str(v).lower() for k, v in config["id2label"].items()}
    order = [next(i for i, name in id2label.items() if name == label) for label in LABELS]
    shutil.rmtree(out_dir, ignore_errors=True)
    for name, text in gpu_configs(max_length=max_length).items():
        (out_dir / name / "1").mkdir(parents=True)
        (out_dir / name / "config.pbtxt").write_text(text)
    shutil.copy2(export_dir / "model.onnx", out_dir / "sentiment_onnx" / "1" / "model.onnx")
    shutil.copy2(_SERVING / "gpu_tokenizer.py", out_dir / "sentiment_tokenizer" / "1" / "model.py")
    (out_dir / "sentiment_tokenizer" / "1" / "tokenizer").mkdir()
    for name in _TOKENIZER_FILES:
        if (export_dir / name).exists():
            shutil.copy2(export_dir / name, out_dir / "sentiment_tokenizer" / "1" / "tokenizer" / name)
    shutil.copy2(_SERVING / "gpu_post.py", out_dir / "sentiment_post" / "1" / "model.py")
    (out_dir / "sentiment_post" / "1" / "label_order.json").write_text(json.dumps(order))
    (out_dir / "sentiment" / "1" / ".keep").write_text("")
    return out_dir
