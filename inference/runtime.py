"""Score texts with a local sentiment model (ONNX Runtime or torch): the code that runs inside Triton.

This file is copied next to the python backend's ``model.py`` in every model repository (with ``classifier.py`` as
``sentiment_classifier.py``), so it depends only on numpy, transformers and one of onnxruntime/torch, never on the
rest of the project. The contract's label order is :class:`core.domain.Label`'s; in a repository it is read from
``CONTRACT_LABELS_FILE``, which the repository builder writes beside this file.

Texts are tokenised once without padding, sorted by length and cut into sub-batches, so a batch of one
long editorial and sixty tweets pads the tweets to tweet length, not to the editorial's. On CPU small sub-batches
(4) are fastest: the matrices stay in cache and sorted groups of four need almost no padding; on a GPU use 64+.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CONTRACT_LABELS",
    "CONTRACT_LABELS_FILE",
    "TARGETED_FILE",
    "SentimentRuntime",
    "crop_around",
    "encode_inputs",
    "mark_mentions",
    "order_by_length",
]

CONTRACT_LABELS_FILE = "contract_labels.json"
TARGETED_FILE = "targeted.json"  # beside a model trained on (target, text) pairs: {"pairs", "max_chars", ...}
try:
    from core.domain import LABELS as CONTRACT_LABELS
except ImportError:  # inside a Triton repository, which is self-contained: the order lies beside this file
    CONTRACT_LABELS = tuple(json.loads(Path(__file__).with_name(CONTRACT_LABELS_FILE).read_text()))


def crop_around(text: str, target: str, max_chars: int) -> str:
    """At most ``max_chars`` of ``text``, centred on the first mention of ``target`` (the start if not named), so
    an entity named late in a long post is still in the window the model reads.

    >>> crop_around("a" * 10 + "XY" + "b" * 10, "XY", 6)
    'aaXYbb'
    >>> crop_around("short", "XY", 10)
    'short'
    """
    if len(text) <= max_chars:
        return text
    at = text.find(target) if target else -1
    if at < 0:
        return text[:max_chars]
    start = max(0, min(at + len(target) // 2 - max_chars // 2, len(text) - max_chars))
    return text[start : start + max_chars]


def mark_mentions(text: str, target: str, marker: str) -> str:
    """``text`` with every mention of ``target`` wrapped in ``marker`` (an entity marker), so the model sees *where*
    the target is, not only its name: a name inside a longer one is marked inside it, which the model learns to
    read as "part of another firm's name" (``贵州§茅台§`` for 茅台 is not about 茅台 alone).

    >>> mark_mentions("A起诉B, B回应", "B", "§")
    'A起诉§B§, §B§回应'
    >>> mark_mentions("no mention", "B", "§"), mark_mentions("B", "", "§")
    ('no mention', 'B')
    """
    return text.replace(target, f"{marker}{target}{marker}") if target and marker else text


def encode_inputs(
    tokenizer: Any,
    texts: Sequence[str],
    targets: Sequence[str] | None,
    *,
    max_chars: int,
    max_length: int,
    marker: str = "",
) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids and segment ids per input: the pair (target, text cropped around it, its mentions wrapped in
    ``marker`` when the model was trained so) where a target is given, else the text alone (cropped from its
    start). Training and serving share it, so they read inputs alike."""
    ids: list[list[int]] = []
    types: list[list[int]] = []
    for i, text in enumerate(texts):
        target = targets[i] if targets is not None else ""
        window = crop_around(text, target, max_chars)
        if target:
            window = mark_mentions(window, target, marker)
            enc = tokenizer(target, window, truncation="only_second", max_length=max_length)
        else:
            enc = tokenizer(window, truncation=True, max_length=max_length)
        ids.append(enc["input_ids"])
        types.append(enc.get("token_type_ids") or [0] * len(enc["input_ids"]))
    return ids, types


def order_by_length(lengths: Sequence[int], sub_batch: int) -> list[list[int]]:
    """Indices grouped into sub-batches of similar length (longest first).

    >>> order_by_length([5, 1, 9, 2], sub_batch=2)
    [[2, 0], [3, 1]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + sub_batch] for i in range(0, len(order), sub_batch)]


class SentimentRuntime:
    """A tokenizer plus a 3-class classifier saved in ``model_dir`` (HF layout, optional ``model.onnx``).

    A model trained on (target, text) pairs (``targeted.json`` beside it) reads ``[CLS] target [SEP] text [SEP]``
    with the text cropped around the target and, where ``targeted.json`` names a ``marker``, the target's mentions
    wrapped in it; without a target, or for a text-level model, the text alone.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        backend: str = "auto",
        onnx_file: str = "model.onnx",
        max_length: int = 128,
        sub_batch: int = 4,
        threads: int | None = None,
    ) -> None:
        from transformers import AutoTokenizer

        self.model_dir = Path(model_dir)
        targeted = self.model_dir / TARGETED_FILE
        meta = json.loads(targeted.read_text()) if targeted.exists() else {}
        self.pairs = bool(meta.get("pairs"))
        self.max_chars = int(meta.get("max_chars", 100_000))
        self.marker = str(meta.get("marker", ""))  # entity marker the pair model was trained with ("" = none)
        max_length = int(meta.get("max_length", max_length))
        self.max_length = max_length
        self.sub_batch = sub_batch
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        self._permutation = self._label_permutation()
        threads = threads or max(1, os.cpu_count() or 1)
        onnx_path = self.model_dir / onnx_file
        if backend == "auto":
            backend = "onnx" if onnx_path.exists() else "torch"
        self.backend = backend
        if backend == "onnx":
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # onnxruntime's pool threads spin between runs by default: two served models (English and Chinese)
            # then burn the cores that Kafka, the worker and each other need (bench.pipeline measures it)
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(str(onnx_path), options, providers=_ort_providers(ort))
            self._input_names = {i.name for i in self._session.get_inputs()}
        elif backend == "torch":
            import torch

            try:
                from inference.classifier import load_classifier
            except ImportError:  # inside a Triton repository, where the module sits next to this file
                from sentiment_classifier import load_classifier  # type: ignore[no-redef]

            torch.set_num_threads(threads)
            self._device = "cuda" if torch.cuda.is_available() else "cpu"
            self._model = load_classifier(self.model_dir).to(self._device)
            self._model.eval()
        else:
            raise ValueError(f"unknown backend {backend!r} (auto, onnx, torch)")

    def _label_permutation(self) -> list[int]:
        """Model output index for each contract label, from the model's own ``id2label``."""
        config = json.loads((self.model_dir / "config.json").read_text())
        id2label = {int(k): str(v).lower() for k, v in config.get("id2label", {}).items()}
        names = [id2label.get(i, "") for i in range(len(id2label))]
        if sorted(names) != sorted(CONTRACT_LABELS):
            raise ValueError(f"model labels {names} are not {list(CONTRACT_LABELS)}")
        return [names.index(label) for label in CONTRACT_LABELS]

    def predict(self, texts: Sequence[str], targets: Sequence[str] | None = None) -> np.ndarray:
        """Probabilities [negative, neutral, positive] per text (toward its target, for a pair model), float32, in
        input order."""
        if not texts:
            return np.zeros((0, 3), dtype=np.float32)
        ids, types = encode_inputs(
            self.tokenizer,
            texts,
            targets if self.pairs else None,
            max_chars=self.max_chars,
            max_length=self.max_length,
            marker=self.marker,
        )
        out = np.empty((len(ids), 3), dtype=np.float32)
        for group in order_by_length([len(x) for x in ids], self.sub_batch):
            width = max(len(ids[i]) for i in group)
            input_ids = np.full((len(group), width), self.pad_id, dtype=np.int64)
            segments = np.zeros((len(group), width), dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=np.int64)
            for row, i in enumerate(group):
                input_ids[row, : len(ids[i])] = ids[i]
                segments[row, : len(ids[i])] = types[i]
                mask[row, : len(ids[i])] = 1
            logits = self._logits(input_ids, mask, segments)
            out[group] = _softmax(logits)[:, self._permutation]
        return out

    def _logits(self, input_ids: np.ndarray, mask: np.ndarray, segments: np.ndarray) -> np.ndarray:
        if self.backend == "onnx":
            feed: dict[str, Any] = {"input_ids": input_ids, "attention_mask": mask}
            if "token_type_ids" in self._input_names:
                feed["token_type_ids"] = segments
            return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)
        import torch

        with torch.inference_mode():
            result = self._model(
                input_ids=torch.from_numpy(input_ids).to(self._device),
                attention_mask=torch.from_numpy(mask).to(self._device),
                token_type_ids=torch.from_numpy(segments).to(self._device),
            )
            return result.logits.float().cpu().numpy()


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)


def _ort_providers(ort: Any) -> list[str]:
    available = ort.get_available_providers()
    preferred = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in preferred if p in available] or available
