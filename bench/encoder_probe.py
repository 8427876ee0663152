"""Which vector of the frozen base encoder carries sentiment? A linear probe per pooling, one table.

    uv run python -m bench.encoder_probe [--json PATH]

all-MiniLM-L6-v2 was trained as a sentence encoder read by mean pooling; BERT's stock classification head reads the
[CLS] vector through a pooler layer instead. This freezes the encoder, embeds the train and test splits once, fits
a class-balanced multinomial logistic regression on each candidate vector, and prints test macro-F1. The winner is
the head ``inference.classifier`` fine-tunes (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import console, print_table, write_json
from core.settings import Settings
from inference.base_encoder import base_encoder_dir
from inference.dataset import current_data_dir, load_split, prepare
from inference.labels import LABEL_TO_ID
from inference.metrics import macro_f1_ids

POOLINGS = ("mean of tokens", "[CLS] token", "BERT pooler")


def embed(texts: list[str], batch: int = 128) -> dict[str, np.ndarray]:
    """The three candidate vectors per text from the frozen encoder (length-sorted batches, little padding)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base_encoder_dir()), local_files_only=True)
    model = AutoModel.from_pretrained(str(base_encoder_dir()), local_files_only=True).eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = {name: np.zeros((len(texts), model.config.hidden_size), dtype=np.float32) for name in POOLINGS}
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            chunk = [texts[i] for i in rows]
            enc = tokenizer(chunk, truncation=True, max_length=128, padding=True, return_tensors="pt")
            result = model(**enc)
            mask = enc["attention_mask"].unsqueeze(-1).float()
            mean = (result.last_hidden_state * mask).sum(1) / mask.sum(1)
            out["mean of tokens"][rows] = mean.numpy()
            out["[CLS] token"][rows] = result.last_hidden_state[:, 0].numpy()
            out["BERT pooler"][rows] = result.pooler_output.numpy()
    return out


def fit_probe(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class-balanced softmax regression on standardised features (L-BFGS, full batch); returns (mean, std, W)."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    features = torch.tensor((x - mean) / std)
    features = torch.cat([features, torch.ones(len(x), 1)], dim=1)
    target = torch.tensor(y)
    weights = torch.tensor(len(y) / (3 * np.bincount(y, minlength=3)), dtype=torch.float32)
    w = torch.zeros(features.shape[1], 3, requires_grad=True)
    optimizer = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(features @ w, target, weight=weights) + l2 * (w[:-1] ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return mean, std, w.detach().numpy()


def predict(probe: tuple[np.ndarray, np.ndarray, np.ndarray], x: np.ndarray) -> np.ndarray:
    mean, std, w = probe
    features = np.hstack([(x - mean) / std, np.ones((len(x), 1), dtype=np.float32)])
    return (features @ w).argmax(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    prepare(settings.cache_dir)
    data = current_data_dir(settings.cache_dir)
    train, test = load_split(data, "train"), load_split(data, "test")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    started = time.perf_counter()
    with console.status(f"embedding {len(train) + len(test)} texts with the frozen encoder…"):
        train_x, test_x = embed([e.text for e in train]), embed([e.text for e in test])
    console.log(f"embedded in {time.perf_counter() - started:.0f} s")
    y_train = np.array([LABEL_TO_ID[e.label] for e in train])
    y_test = np.array([LABEL_TO_ID[e.label] for e in test])
    figures = {}
    for name in POOLINGS:
        figures[name] = macro_f1_ids(y_test, predict(fit_probe(train_x[name], y_train), test_x[name]))
    print_table(
        "linear probe on the frozen all-MiniLM-L6-v2: test macro-F1",
        ["vector", "macro-F1"],
        [[name, f"{value:.3f}"] for name, value in figures.items()],
    )
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
