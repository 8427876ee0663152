"""The production GPU model repository: one ensemble per language with the same contract as the CPU models
(TEXT string [, TARGET string] -> PROBS fp32[3]), each built from an export directory (``radar model export``).

    sentiment (ensemble)  =  sentiment_tokenizer (python, CPU)  ->  sentiment_onnx (ONNX Runtime, GPU, TensorRT
                              fp16)  ->  sentiment_post (python: softmax, contract order)
    sentiment_zh          =  the same three steps, named sentiment_zh_*, for the Chinese pair model

A pair model (its export's ``targeted.json`` says ``pairs``) takes TARGET as well, and its tokenizer step encodes
exactly as the CPU runtime does (the project's ``runtime.py`` is copied beside it: crop around the target, entity
marker, ``[CLS] target [SEP] text [SEP]`` with segment ids), so GPU and CPU read a pair alike. Unlike the CPU model,
whose python backend treats TARGET as optional, the ensemble *requires* TARGET of a pair model (an empty string
scores the text as a whole): Triton cannot route an absent optional input through ensemble steps. The workers send
it to every model that declares ``pairs``.

Build it with ``radar model gpu-repo OUT`` and serve it with NVIDIA's Triton image (deploy/compose, deploy/k8s).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from core.domain import LABELS
from inference.runtime import CONTRACT_LABELS_FILE, TARGETED_FILE

__all__ = ["build_gpu_repository", "gpu_configs"]

_HERE = Path(__file__).resolve().parent
_SERVING = _HERE / "serving"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", TARGETED_FILE)


def gpu_configs(
    *,
    name: str = "sentiment",
    pairs: bool = False,
    max_batch_size: int = 64,
    max_length: int = 128,
    queue_delay_us: int = 1000,
) -> dict[str, str]:
    """config.pbtxt of each model of the ensemble ``name`` (keys: the model names)."""
    tok, onnx, post = f"{name}_tokenizer", f"{name}_onnx", f"{name}_post"
    string_in = '{{ name: "{}" data_type: TYPE_STRING dims: [ 1 ] }}'
    long_t = '{{ name: "{}" data_type: TYPE_INT64 dims: [ ' + str(max_length) + " ] }}"
    strings = ["TEXT", "TARGET"] if pairs else ["TEXT"]
    ensemble_inputs = ", ".join(string_in.format(n) for n in strings)
    encoded = ["input_ids", "attention_mask", *(["token_type_ids"] if pairs else [])]
    tok_in = "".join(
        f'\n      input_map {{ key: "{n}" value: "{n}" }}' for n in (["TEXT", "TARGET"] if pairs else ["TEXT"])
    )
    tok_out = "".join(f'\n      output_map {{ key: "{n}" value: "{n}" }}' for n in encoded)
    onnx_in = "".join(f'\n      input_map {{ key: "{n}" value: "{n}" }}' for n in encoded)
    pairs_param = f'parameters: {{ key: "pairs" value: {{ string_value: "{"true" if pairs else "false"}" }} }}'
    return {
        name: f"""name: "{name}"
platform: "ensemble"
max_batch_size: {max_batch_size}
input [ {ensemble_inputs} ]
output [ {{ name: "PROBS" data_type: TYPE_FP32 dims: [ 3 ] }} ]
{pairs_param}
ensemble_scheduling {{
  step [
    {{ model_name: "{tok}" model_version: -1{tok_in}{tok_out} }},
    {{ model_name: "{onnx}" model_version: -1{onnx_in}
      output_map {{ key: "logits" value: "logits" }} }},
    {{ model_name: "{post}" model_version: -1
      input_map {{ key: "LOGITS" value: "logits" }}
      output_map {{ key: "PROBS" value: "PROBS" }} }}
  ]
}}
""",
        tok: f"""name: "{tok}"
backend: "python"
max_batch_size: {max_batch_size}
input [ {ensemble_inputs} ]
output [ {", ".join(long_t.format(n) for n in encoded)} ]
instance_group [ {{ count: 2 kind: KIND_CPU }} ]
dynamic_batching {{ max_queue_delay_microseconds: {queue_delay_us} }}
parameters: {{ key: "max_length" value: {{ string_value: "{max_length}" }} }}
""",
        onnx: f"""name: "{onnx}"
platform: "onnxruntime_onnx"
max_batch_size: {max_batch_size}
input [ {", ".join(long_t.format(n) for n in encoded)} ]
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
        post: f"""name: "{post}"
backend: "python"
max_batch_size: {max_batch_size}
input [ {{ name: "LOGITS" data_type: TYPE_FP32 dims: [ 3 ] }} ]
output [ {{ name: "PROBS" data_type: TYPE_FP32 dims: [ 3 ] }} ]
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
""",
    }


def _reads_pairs(export_dir: Path) -> bool:
    path = export_dir / TARGETED_FILE
    return path.exists() and bool(json.loads(path.read_text()).get("pairs"))


def build_gpu_repository(
    export_dir: Path, out_dir: Path, *, name: str = "sentiment", max_length: int = 128, clean: bool = True
) -> Path:
    """Lay out the ensemble ``name`` (``clean``: empty ``out_dir`` first; False adds a language beside another);
    the fp32 ONNX is used (TensorRT builds its own fp16 engine from it)."""
    config = json.loads((export_dir / "config.json").read_text())
    id2label = {int(k): str(v).lower() for k, v in config["id2label"].items()}
    order = [next(i for i, label_name in id2label.items() if label_name == label) for label in LABELS]
    pairs = _reads_pairs(export_dir)
    if clean:
        shutil.rmtree(out_dir, ignore_errors=True)
    configs = gpu_configs(name=name, pairs=pairs, max_length=max_length)
    for model, text in configs.items():
        shutil.rmtree(out_dir / model, ignore_errors=True)
        (out_dir / model / "1").mkdir(parents=True)
        (out_dir / model / "config.pbtxt").write_text(text)
    shutil.copy2(export_dir / "model.onnx", out_dir / f"{name}_onnx" / "1" / "model.onnx")
    tokenizer_dir = out_dir / f"{name}_tokenizer" / "1"
    shutil.copy2(_SERVING / "gpu_tokenizer.py", tokenizer_dir / "model.py")
    shutil.copy2(_HERE / "runtime.py", tokenizer_dir / "sentiment_runtime.py")  # the CPU runtime's encoding
    (tokenizer_dir / CONTRACT_LABELS_FILE).write_text(json.dumps(LABELS))
    (tokenizer_dir / "tokenizer").mkdir()
    for file in _TOKENIZER_FILES:
        if (export_dir / file).exists():
            shutil.copy2(export_dir / file, tokenizer_dir / "tokenizer" / file)
    shutil.copy2(_SERVING / "gpu_post.py", out_dir / f"{name}_post" / "1" / "model.py")
    (out_dir / f"{name}_post" / "1" / "label_order.json").write_text(json.dumps(order))
    (out_dir / name / "1" / ".keep").write_text("")
    return out_dir
