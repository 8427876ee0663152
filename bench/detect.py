"""Detection quality and aggregate throughput, in one run.

    uv run python -m bench.detect [--days 3] [--json PATH]

- detection delay: seeded `incident-day` and `demo` scenarios, minute stats built from the texts as the served
  model scores them (each unique text scored once, cached), run through the stream's own detector code; delay is
  the first alert's window end minus the incident's start (ground truth). The same with the human gold labels.
- false alerts per simulated day: `clean-day` scenarios (no incident), every alert counts.
- sustained aggregate updates/s: the Redis Lua store (dedupe + minute/hour buckets + evidence) on the local Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis

from bench.common import console, print_table, write_json
from inference.dataset import fetch_vader_sdist, parse_sdist
from inference.labels import LABELS
from inference.model_store import resolve_serving_model, serving_onnx_file
from inference.runtime import SentimentRuntime
from services.scenarios import SCENARIOS, Scenario, generate
from services.settings import Settings
from storage.aggregates import AggregateStore, ScoredItem
from stream.detect import EntityDetectors, observe_minute
from stream.detectors import MinuteStats
from stream.entities import load_watchlist

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


def text_scores(settings: Settings, texts: list[str]) -> dict[str, tuple[str, float]]:
    """(label, score) per unique text from the served model, cached by model and text set."""
    model_dir = resolve_serving_model(settings)
    onnx_file = serving_onnx_file(model_dir)
    unique = sorted(set(texts))
    key = hashlib.sha256((str(model_dir) + onnx_file + "".join(unique)).encode()).hexdigest()[:12]
    cache = settings.cache_dir / "bench" / f"text-scores-{key}.npy"
    if cache.exists():
        probs = np.load(cache)
    else:
        runtime = SentimentRuntime(model_dir, onnx_file=onnx_file)
        chunks = []
        with console.status(f"scoring {len(unique)} unique texts once with {model_dir.name}/{onnx_file}…"):
            for start in range(0, len(unique), 256):
                chunks.append(runtime.predict(unique[start : start + 256]))
        probs = np.concatenate(chunks)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, probs)
    return {t: (LABELS[int(p.argmax())], float(p[2] - p[0])) for t, p in zip(unique, probs, strict=True)}


def run_detectors(
    events: list[dict[str, Any]], score_of: Callable[[dict[str, Any]], tuple[str, float]]
) -> list[dict[str, Any]]:
    """Per-entity minute stats -> the stream's detectors -> alerts (as the closer would raise them)."""
    buckets: dict[tuple[str, int], list[tuple[str, float]]] = defaultdict(list)
    for e in events:
        minute = int(datetime.fromisoformat(str(e["published_at"]).replace("Z", "+00:00")).timestamp() // 60)
        buckets[(str(e["meta"]["entity"]), minute)].append(score_of(e))
    minutes = [m for _, m in buckets]
    first, last = min(minutes), max(minutes)
    alerts: list[dict[str, Any]] = []
    for entity in sorted({e for e, _ in buckets}):
        detectors = EntityDetectors()
        for minute in range(first, last + 1):
            items = buckets.get((entity, minute), [])
            stats = MinuteStats(
                n=len(items), negative=sum(lab == "negative" for lab, _ in items),
                neutral=sum(lab == "neutral" for lab, _ in items), positive=sum(lab == "positive" for lab, _ in items),
                total=sum(s for _, s in items), total_sq=sum(s * s for _, s in items),
            )  # fmt: skip
            alerts.extend(a.to_json() for a in observe_minute(detectors, entity, minute, stats))
    return alerts


def gold(event: dict[str, Any]) -> tuple[str, float]:
    meta = event["meta"]
    return str(meta["label"]), max(-1.0, min(1.0, float(meta["rating"]) / 2.5))


@dataclass
class Assessment:
    scenario: str
    labels: str
    events: int
    days: float
    incidents: int
    delay_min: dict[str, float]  # detector -> first alert's delay from the incident start
    false_alerts: int

    @property
    def false_per_day(self) -> float:
        return self.false_alerts / self.days


def assess(
    name: str, labels: str, scenario: Scenario, score_of: Callable[[dict[str, Any]], tuple[str, float]]
) -> Assessment:
    alerts = run_detectors(scenario.events, score_of)
    truth = scenario.truth()["incidents"]
    hits: list[dict[str, Any]] = []
    false: list[dict[str, Any]] = []
    for alert in alerts:
        end = datetime.fromisoformat(str(alert["window_end"]))
        inside = [
            i for i in truth if i["entity"] == alert["entity"]
            and datetime.fromisoformat(i["start"]) < end <= datetime.fromisoformat(i["end"]) + timedelta(minutes=15)
        ]  # fmt: skip
        (hits if inside else false).append(alert)
    delays: dict[str, float] = {}
    for incident in truth:
        start = datetime.fromisoformat(incident["start"])
        for alert in hits:
            if alert["entity"] == incident["entity"]:
                delay = (datetime.fromisoformat(str(alert["window_end"])) - start).total_seconds() / 60
                delays[alert["detector"]] = min(delays.get(alert["detector"], 1e9), delay)
    return Assessment(name, labels, len(scenario.events), scenario.spec.duration_min / 1440, len(truth), delays,
                      len(false))  # fmt: skip


async def redis_rate(settings: Settings, seconds: float = 5.0, batch: int = 500) -> float:
    client = aioredis.from_url(settings.redis_url)
    store = AggregateStore(client, prefix=f"radar:bench{uuid.uuid4().hex[:6]}:")
    entities = ["ACME", "GLBX", "INIT", "UMBR", "STRK"]
    started, n = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        items = [
            ScoredItem(f"e{n + i}", "news", (entities[(n + i) % 5],), "negative", -0.5,
                       START + timedelta(seconds=(n + i) % 86400), "bench text")
            for i in range(batch)
        ]  # fmt: skip
        await store.add_batch(items)
        n += batch
    rate = n / (time.perf_counter() - started)
    keys = [k async for k in client.scan_iter(f"{store.keys.prefix}*")]
    for i in range(0, len(keys), 1000):
        await client.delete(*keys[i : i + 1000])
    await client.aclose()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=3, help="seeds of each day-long scenario")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    texts = parse_sdist(fetch_vader_sdist(settings.cache_dir))
    watchlist = load_watchlist(settings.watchlist)
    runs = [("demo", generate(SCENARIOS["demo"], texts, watchlist, seed=7, start=START + timedelta(hours=9)))]
    runs += [(f"incident-day #{s}", generate(SCENARIOS["incident-day"], texts, watchlist, seed=s, start=START))
             for s in range(args.days)]  # fmt: skip
    runs += [(f"clean-day #{s}", generate(SCENARIOS["clean-day"], texts, watchlist, seed=100 + s, start=START))
             for s in range(args.days)]  # fmt: skip
    scores = text_scores(settings, [e["text"] for _, sc in runs for e in sc.events])

    def model(event: dict[str, Any]) -> tuple[str, float]:
        return scores[event["text"]]

    rows: list[list[Any]] = []
    figures: list[Assessment] = []
    for name, scenario in runs:
        for labels, fn in (("model", model), ("gold", gold)):
            r = assess(name, labels, scenario, fn)
            figures.append(r)
            delays = ", ".join(f"{d} {v:.0f} min" for d, v in sorted(r.delay_min.items()))
            rows.append([name, labels, r.events, delays or ("-" if not r.incidents else "missed"), r.false_alerts,
                         f"{r.false_per_day:.2f}"])  # fmt: skip
    columns = ["scenario", "labels", "events", "delay from incident start", "false alerts", "false / day"]
    print_table("detection on seeded scenarios (stream detector code, offline)", columns, rows)
    clean = [f for f in figures if f.scenario.startswith("clean") and f.labels == "model"]
    incident = [f for f in figures if f.incidents and f.labels == "model"]
    first = [min(f.delay_min.values()) for f in incident if f.delay_min]
    rate = asyncio.run(redis_rate(settings))
    summary = {
        "incidents_detected": f"{len(first)}/{len(incident)}",
        "median_first_alert_delay_min": float(np.median(first)) if first else None,
        "false_alerts_per_clean_day": float(np.mean([f.false_per_day for f in clean])),
        "redis_events_per_s": rate,
    }
    print_table("summary (model labels)", ["measure", "value"], [[k, v] for k, v in summary.items()])
    console.print("each Redis event: dedupe + minute and hour buckets for the entity and _all + evidence, one Lua call")
    write_json(args.json, {"summary": summary, "runs": [asdict(f) for f in figures]})


if __name__ == "__main__":
    main()
