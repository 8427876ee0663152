"""A tiny randomly-initialised classifier with the real tokenizer and the full model contract.

Integration tests and the first ``stack up`` serve it: it builds in seconds, runs through exactly the same
tokenizer, runtime, Triton repository and client as the trained model, and its outputs are reproducible
(fixed seed), so tests can compare Triton's answers with a local computation.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from inference.base_encoder import base_encoder_dir
from inference.labels import LABELS
from inference.runtime import TARGETED_FILE

__all__ = ["build_tiny_model"]

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def build_tiny_model(
    out_dir: Path,
    *,
    seed: int = 0,
    pooling: str = "mean",
    tokenizer_dir: Path | None = None,
    vocab_size: int = 30522,
    targeted: dict[str, object] | None = None,
) -> Path:
    """Write a 2-layer, 32-wide BERT with a 3-class head to ``out_dir`` (skipped if already there, same head).

    ``pooling`` matches the trained model's head by default, so tests serve the architecture production serves.
    ``tokenizer_dir``/``vocab_size`` give it another encoder's tokenizer (the Chinese one), ``targeted`` the
    ``targeted.json`` of a pair model, so tests serve the Chinese contract too.
    """
    from inference.classifier import MEAN_POOL_ARCHITECTURE, mean_pool_class

    out_dir = Path(out_dir)
    wanted = MEAN_POOL_ARCHITECTURE if pooling == "mean" else "BertForSequenceClassification"
    config_path = out_dir / "config.json"
    built = config_path.exists() and (out_dir / "model.safetensors").exists()
    if built and wanted in (json.loads(config_path.read_text()).get("architectures") or []):
        return out_dir
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    source = tokenizer_dir or base_encoder_dir()
    torch.manual_seed(seed)
    config = BertConfig(  # type: ignore[call-arg]  # PretrainedConfig kwargs
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=3,
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    model = (mean_pool_class() if pooling == "mean" else BertForSequenceClassification)(config)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    for name in _TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, tmp / name)
    if targeted is not None:
        (tmp / TARGETED_FILE).write_text(json.dumps(targeted))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir
