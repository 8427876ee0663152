"""Sentiment model throughput on this machine, side by side, in one run.

    uv run python -m bench.model_throughput [--lang en|zh] [--json reports/model_throughput.json]

Items/s at batch 1, 8, 32, 64 for torch fp32, ONNX Runtime fp32 and int8, Triton (the served `sentiment` model
over async gRPC with concurrent requests) and the VADER lexicon; then the FLOP limit: measured matmul GFLOP/s
divided by the model's FLOPs per item at the measured mean token length, and each variant's fraction of it.
Needs `radar stack up` (Triton); uses the last exported model (`radar model export`) or the tiny one; with
``--lang zh`` the served Chinese model (``sentiment_zh``: ``bench.zh_fin``'s export, else the tiny one), Chinese texts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path

import numpy as np

from bench.common import chinese_texts, console, held_out_texts, print_table, rate, write_json
from core.settings import Settings
from inference.model_store import resolve_serving_model, resolve_zh_serving_model, serving_onnx_file
from inference.runtime import SentimentRuntime
from inference.triton_client import TritonSentimentClient

BATCHES = (1, 8, 32, 64)


def flops_per_item(config: dict[str, int], tokens: float) -> float:
    """Forward FLOPs of a BERT encoder for one sequence of ``tokens`` (matmuls; softmax and norms are small).

    >>> round(flops_per_item({"hidden_size": 384, "num_hidden_layers": 6, "intermediate_size": 1536}, 32) / 1e6, 1)
    688.9
    """
    d, layers, ff = config["hidden_size"], config["num_hidden_layers"], config["intermediate_size"]
    per_layer = 2 * tokens * (4 * d * d + 2 * d * ff) + 4 * tokens * tokens * d
    return layers * per_layer


def matmul_gflops(size: int = 1024, seconds: float = 1.0, tries: int = 3) -> float:
    """Sustained fp32 matmul rate of this machine with all cores (torch, the same BLAS the model uses); the best
    of ``tries`` runs, since a shared machine only ever slows a run down."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = 0.0
    for _ in range(tries):
        started, n = time.perf_counter(), 0
        while time.perf_counter() - started < seconds:
            torch.mm(a, b)
            n += 1
        best = max(best, 2 * size**3 * n / (time.perf_counter() - started) / 1e9)
    return best


def batched(predict, texts: list[str], batch: int):
    def run() -> int:
        for start in range(0, len(texts), batch):
            predict(texts[start : start + batch])
        return len(texts)

    return run


def triton_rate(settings: Settings, texts: list[str], batch: int, in_flight: int = 8) -> float:
    """Items/s of the served ``settings.model_name`` over async gRPC, ``in_flight`` requests of ``batch`` texts."""
    return triton_mix_rate(settings, {settings.model_name: texts}, batch, in_flight)


def triton_mix_rate(settings: Settings, texts_by_model: dict[str, list[str]], batch: int, in_flight: int = 8) -> float:
    """Items/s over async gRPC with each model's texts sent to it concurrently (one in-flight limit per model, as
    the score stage has), in ``batch``-sized requests: what Triton alone can do for a feed of that mix."""

    async def main() -> float:
        clients = {
            name: TritonSentimentClient(settings.triton_grpc_url, name, max_in_flight=in_flight)
            for name in texts_by_model
        }
        for client in clients.values():
            await client.init()
        chunks = [
            (clients[name], texts[i : i + batch])
            for name, texts in texts_by_model.items()
            for i in range(0, len(texts), batch)
        ]
        slots = {name: asyncio.Semaphore(in_flight) for name in clients}
        slot_of = {id(client): slots[name] for name, client in clients.items()}

        async def one(client: TritonSentimentClient, chunk: list[str]) -> None:
            async with slot_of[id(client)]:
                await client.infer(chunk)

        await asyncio.gather(*(one(c, t) for c, t in chunks[: in_flight * len(clients)]))  # warm-up
        per_round = sum(len(texts) for texts in texts_by_model.values())
        started, items = time.perf_counter(), 0
        while time.perf_counter() - started < 3.0:
            await asyncio.gather(*(one(c, t) for c, t in chunks))
            items += per_round
        elapsed = time.perf_counter() - started
        for client in clients.values():
            await client.close()
        return items / elapsed

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--lang", choices=("en", "zh"), default="en")
    args = parser.parse_args()
    settings = Settings()
    if args.lang == "zh":
        settings = settings.model_copy(update={"model_name": settings.model_name_zh})
        model_dir, texts = resolve_zh_serving_model(settings), chinese_texts(settings, args.texts)
    else:
        model_dir, texts = resolve_serving_model(settings), held_out_texts(settings, args.texts)
    console.print(f"model: {model_dir} ({len(texts)} real test texts, {os.cpu_count()} cores)")

    variants = {"torch fp32": SentimentRuntime(model_dir, backend="torch")}
    if (model_dir / "model.onnx").exists():
        variants["onnx fp32"] = SentimentRuntime(model_dir, backend="onnx", onnx_file="model.onnx")
    if (model_dir / "model.int8.onnx").exists():
        variants["onnx int8"] = SentimentRuntime(model_dir, backend="onnx", onnx_file="model.int8.onnx")
    tokenizer = variants["torch fp32"].tokenizer
    mean_tokens = float(np.mean([len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]))

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    results: dict[str, dict[int, float]] = {}
    for name, runtime in variants.items():
        results[name] = {b: rate(batched(runtime.predict, texts, b), min_s=2.0) for b in BATCHES}
        console.log(f"{name}: {results[name]}")
    served = serving_onnx_file(model_dir) if (model_dir / "serving.json").exists() else "torch/onnx (auto)"
    results[f"triton {settings.model_name} ({served}, 8 in flight)"] = {
        b: triton_rate(settings, texts, b) for b in BATCHES
    }
    console.log(f"triton: {list(results.values())[-1]}")
    vader_rate = rate(lambda: sum(1 for t in texts if vader.polarity_scores(t) is not None), min_s=2.0)
    results["vader lexicon (1 core)"] = dict.fromkeys(BATCHES, vader_rate)

    config = json.loads((model_dir / "config.json").read_text())
    per_item = flops_per_item(config, mean_tokens)
    gflops = matmul_gflops()
    ceiling = gflops * 1e9 / per_item
    rows = [
        [name, *[r[b] for b in BATCHES], f"{max(r.values()) / ceiling:.1%}" if "vader" not in name else "-"]
        for name, r in results.items()
    ]
    print_table(
        f"items/s by batch size ({args.lang})", ["variant", *[f"batch {b}" for b in BATCHES], "best / FLOP limit"], rows
    )
    console.print("The limit is the fp32 matmul rate; int8 kernels (VNNI) can go past it.")
    console.print(
        f"FLOP limit: matmul {gflops:.1f} GFLOP/s / {per_item / 1e6:.0f} MFLOP per item "
        f"(mean {mean_tokens:.1f} tokens, {config['num_hidden_layers']} layers x {config['hidden_size']}) "
        f"= {ceiling:,.0f} items/s"
    )
    per_batch = {k: {str(b): v for b, v in r.items()} for k, r in results.items()}
    write_json(
        args.json,
        {
            "model": str(model_dir),
            "lang": args.lang,
            "mean_tokens": mean_tokens,
            "matmul_gflops": gflops,
            "flops_per_item": per_item,
            "flop_limit_items_per_s": ceiling,
            "items_per_s": per_batch,
        },
    )


if __name__ == "__main__":
    main()
