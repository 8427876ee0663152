"""Fine-tune an encoder on (text, target) pairs: the sentiment of a text *toward an entity*, in either language.

A text that names two firms ("A sues B over unpaid loans") has one sentiment per firm, so the model reads the pair
as BERT reads a sentence pair, ``[CLS] target [SEP] text [SEP]`` (segment ids 0 and 1), and a text-level example
is the text alone. Long texts are cropped around the target's first mention (``fin_data.crop_around``), so an
entity named late in a long post is still read. The head is the mean-pooling classifier of
:mod:`inference.classifier`; optimisation reuses :mod:`inference.train`'s pieces (length buckets, layer-wise
groups, class weights, offsets tuned on a validation slice carved out of the training data).

The saved folder is a Hugging Face model plus ``targeted.json`` (``pairs``, ``max_chars``, ``lang``), which tells
the runtime to feed pairs.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from inference.fin_data import PairExample
from inference.labels import LABEL_TO_ID, LABELS
from inference.runtime import TARGETED_FILE, encode_inputs
from inference.train import _class_weights, _seed_run, _weighted_loss, length_buckets, param_groups, tune_offsets

__all__ = ["PairConfig", "encode_pairs", "predict_pairs", "train_pairs"]

ProgressFn = Callable[[str, int, int, dict[str, float]], None]


@dataclass(frozen=True)
class PairConfig:
    epochs: int = 2
    max_length: int = 128
    max_chars: int = 150  # text characters kept around the target (Chinese: about one token each)
    marker: str = ""  # wraps the target's mentions in the text (an entity marker; "" = none, the older models)
    lr: float = 6e-5
    batch_size: int = 32
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    class_weight_power: float = 0.5
    layer_decay: float = 0.9
    seed: int = 13
    val_fraction: float = 0.05


def encode_pairs(tokenizer: Any, examples: Sequence[PairExample], config: PairConfig) -> list[dict[str, list[int]]]:
    """Token and segment ids per example, as the runtime encodes them (:func:`inference.runtime.encode_inputs`)."""
    ids, types = encode_inputs(
        tokenizer,
        [e.text for e in examples],
        [e.target for e in examples],
        max_chars=config.max_chars,
        max_length=config.max_length,
        marker=config.marker,
    )
    return [{"input_ids": i, "token_type_ids": t} for i, t in zip(ids, types, strict=True)]


def _pad(encoded: Sequence[dict[str, list[int]]], batch: Sequence[int], pad: int) -> dict[str, Any]:
    import torch

    width = max(len(encoded[i]["input_ids"]) for i in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    types = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        n = len(encoded[i]["input_ids"])
        ids[row, :n] = torch.tensor(encoded[i]["input_ids"])
        types[row, :n] = torch.tensor(encoded[i]["token_type_ids"])
        mask[row, :n] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def _logits(model: Any, encoded: Sequence[dict[str, list[int]]], pad: int, batch_size: int = 64) -> list[list[float]]:
    import torch

    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]["input_ids"]))
    out: list[list[float]] = [[]] * len(encoded)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            for i, row in zip(batch, model(**_pad(encoded, batch, pad)).logits.float().tolist(), strict=True):
                out[i] = row
    return out


def predict_pairs(
    model_dir: Path, pairs: Sequence[tuple[str, str]], *, onnx_file: str | None = None
) -> list[list[float]]:
    """Probabilities [negative, neutral, positive] for (text, target) pairs, with the runtime Triton serves (torch,
    or the export's ``onnx_file``)."""
    from inference.runtime import SentimentRuntime

    if onnx_file is None:
        runtime = SentimentRuntime(model_dir, backend="torch", sub_batch=16)
    else:
        runtime = SentimentRuntime(model_dir, backend="onnx", onnx_file=onnx_file)
    return runtime.predict([text for text, _ in pairs], [target for _, target in pairs]).tolist()


def train_pairs(
    base: Path,
    examples: list[PairExample],
    out_dir: Path,
    config: PairConfig,
    *,
    lang: str,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Fine-tune ``base`` on ``examples``; saves the model to ``out_dir`` and returns the training summary."""
    import torch
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from inference.classifier import mean_pool_class
    from inference.dataset import stratified_split

    _seed_run(config.seed)
    split = stratified_split(examples, test_fraction=config.val_fraction, seed=config.seed + 1)  # type: ignore[arg-type]
    train_set, validation = cast(tuple[list[PairExample], list[PairExample]], split)
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    pad = int(tokenizer.pad_token_id or 0)
    model = mean_pool_class().from_pretrained(
        str(base), num_labels=3, id2label=dict(enumerate(LABELS)), label2id=dict(LABEL_TO_ID), local_files_only=True
    )
    encoded = encode_pairs(tokenizer, train_set, config)
    targets = torch.tensor([[1.0 if LABELS[k] == e.label else 0.0 for k in range(3)] for e in train_set])
    weights = torch.tensor(_class_weights(train_set, config.class_weight_power))  # type: ignore[arg-type]
    groups = param_groups(list(model.named_parameters()), config, model.config.num_hidden_layers)  # type: ignore[arg-type]
    optimizer = torch.optim.AdamW(groups, lr=config.lr)
    total = math.ceil(len(train_set) / config.batch_size) * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_fraction), total)
    history, began = [], time.monotonic()
    for epoch in range(config.epochs):
        model.train()
        batches = length_buckets(
            [len(x["input_ids"]) for x in encoded], config.batch_size, random.Random(config.seed * 1000 + epoch)
        )
        running = seen = 0.0
        for step, batch in enumerate(batches, 1):
            loss = _weighted_loss(model(**_pad(encoded, batch, pad)).logits, targets[batch], weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += float(loss.item()) * len(batch)
            seen += len(batch)
            if progress:
                progress(f"{lang} epoch {epoch + 1}/{config.epochs}", step, len(batches), {"loss": running / seen})
        history.append({"epoch": epoch + 1, "loss": running / max(seen, 1), "seconds": time.monotonic() - began})
    offsets = [0.0, 0.0, 0.0]
    if validation:
        truth = [LABEL_TO_ID[e.label] for e in validation]
        offsets = tune_offsets(_logits(model, encode_pairs(tokenizer, validation, config), pad), truth)
        with torch.no_grad():
            model.classifier.bias += torch.tensor(offsets, dtype=model.classifier.bias.dtype)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
        if (base / name).exists():
            shutil.copy2(base / name, out_dir / name)
    # a model that never saw a target reads texts only: serving must not ask it for per-entity rows
    meta = {
        "pairs": any(e.target for e in examples),
        "lang": lang,
        "max_length": config.max_length,
        "max_chars": config.max_chars,
        "marker": config.marker,
    }
    (out_dir / TARGETED_FILE).write_text(json.dumps(meta))
    summary = {
        "config": asdict(config),
        "lang": lang,
        "examples": len(train_set),
        "validation": len(validation),
        "class_offsets": offsets,
        "history": history,
        "seconds": time.monotonic() - began,
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    return summary
