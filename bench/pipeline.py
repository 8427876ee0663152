"""End-to-end scoring throughput and latency through Kafka + Faust + Triton, side by side, in one run.

    uv run python -m bench.pipeline [--model sentiment|sentiment_tiny] [--events 3000] [--json PATH]

1. micro-batched: a backlog of N real texts, one `radar worker --agents score`, default batching;
2. per-event: the same with one event per Triton request (RADAR_MAX_BATCH_SIZE=1, one agent);
3. raw model: the served model straight over async gRPC (batch 64, 8 in flight), no Kafka;
4. latency published -> scored (p50/p99) with events paced at half the micro-batched maximum.
Needs the local stack (`radar stack up`).
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from kafka import KafkaConsumer

from bench.common import console, held_out_texts, print_table, write_json
from bench.model_throughput import triton_rate
from core.settings import Settings, TopicNames
from stream.producer import EventProducer
from stream.topics import ensure_topics
from tests.support.workers import running_worker


def fresh(settings: Settings, tag: str) -> Settings:
    unique = f"bench{tag}{uuid.uuid4().hex[:6]}"
    topics = TopicNames(**{field: f"{unique}.{field}" for field in TopicNames.model_fields})
    scoped = settings.model_copy(update={"topics": topics, "consumer_group": unique})
    ensure_topics(scoped)
    return scoped


def event(i: int, text: str) -> dict[str, object]:
    return {
        "id": f"b{i}-{uuid.uuid4().hex[:8]}",
        "source": "bench",
        "kind": "social" if i % 2 else "news",
        "text": text,
        "published_at": datetime.now(UTC).isoformat(),
    }


def collect(settings: Settings, n: int, timeout_s: float) -> list[dict[str, object]]:
    consumer = KafkaConsumer(
        settings.topics.scored,
        **settings.kafka_python_config(),
        group_id=uuid.uuid4().hex,
        auto_offset_reset="earliest",
        consumer_timeout_ms=500,
    )
    out: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        out.extend(json.loads(m.value) for m in consumer)
    consumer.close()
    return out


def wait_ready(settings: Settings, producer: EventProducer, texts: list[str]) -> None:
    producer.send_event(event(-1, texts[0]))
    producer.flush()
    if not collect(settings, 1, 120):
        raise RuntimeError("the worker never scored the warm-up event")


def backlog_rate(settings: Settings, texts: list[str], n: int, log: Path, extra: dict[str, str]) -> float:
    with (
        running_worker(settings, log, extra={**extra, "RADAR_WORKER_METRICS_PORT": "0"}, agents="score"),
        EventProducer(settings) as producer,
    ):
        wait_ready(settings, producer, texts)
        started = time.time()
        for i in range(n):
            producer.send_event(event(i, texts[i % len(texts)]))
        producer.flush()
        scored = collect(settings, n + 1, timeout_s=600)
    if len(scored) < n + 1:
        raise RuntimeError(f"only {len(scored)} of {n + 1} scored; see {log}")
    last = max(datetime.fromisoformat(str(s["scored_at"])).timestamp() for s in scored)
    return n / (last - started)


def paced_latency(settings: Settings, texts: list[str], rate: float, seconds: float, log: Path, extra: dict[str, str]):
    with (
        running_worker(settings, log, extra={**extra, "RADAR_WORKER_METRICS_PORT": "0"}, agents="score"),
        EventProducer(settings) as producer,  # the replay's and the API's settings: linger 10 ms, in the latency
    ):
        wait_ready(settings, producer, texts)
        n = int(rate * seconds)
        started = time.monotonic()
        for i in range(n):
            target = started + i / rate
            if (delay := target - time.monotonic()) > 0:
                time.sleep(delay)
            producer.send_event(event(i, texts[i % len(texts)]))
        producer.flush()
        scored = [
            s
            for s in collect(settings, n + 1, timeout_s=300)
            if str(s["id"]).startswith("b") and "b-1-" not in str(s["id"])
        ]
    lat = [1000 * (_ts(s["scored_at"]) - _ts(s["published_at"])) for s in scored]
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), len(lat)


def _ts(value: object) -> float:
    return datetime.fromisoformat(str(value)).timestamp()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sentiment")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--per-event-events", type=int, default=600)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    base = Settings().model_copy(update={"model_name": args.model})
    texts = held_out_texts(base, 512)
    logs = Path("var/log/bench")
    logs.mkdir(parents=True, exist_ok=True)
    model_env = {"RADAR_MODEL_NAME": args.model}

    console.log("micro-batched backlog…")
    batched = backlog_rate(fresh(base, "mb"), texts, args.events, logs / "pipeline-batched.log", model_env)
    console.log(f"  {batched:,.0f} events/s")
    console.log("one event per request…")
    per_event_env = {**model_env, "RADAR_MAX_BATCH_SIZE": "1", "RADAR_SCORE_CONCURRENCY": "1"}
    per_event = backlog_rate(
        fresh(base, "pe"), texts, args.per_event_events, logs / "pipeline-per-event.log", per_event_env
    )
    console.log(f"  {per_event:,.0f} events/s")
    console.log("raw model over gRPC…")
    raw = triton_rate(base, texts, 64)
    console.log(f"  {raw:,.0f} items/s")
    console.log(f"latency at half the maximum rate ({batched / 2:,.0f} events/s)…")
    p50, p99, n = paced_latency(
        fresh(base, "lat"), texts, batched / 2, args.latency_seconds, logs / "pipeline-latency.log", model_env
    )

    print_table(
        f"scoring pipeline, model {args.model} (Kafka + Faust + Triton, one worker, this machine)",
        ["measure", "value", "goal", "met"],
        [
            ["pipeline, micro-batched (events/s)", batched, "", ""],
            ["pipeline, one event per request (events/s)", per_event, "", ""],
            ["raw model over gRPC, batch 64 (items/s)", raw, "", ""],
            ["pipeline / raw model", f"{batched / raw:.2f}", ">= 0.8", "yes" if batched / raw >= 0.8 else "no"],
            [
                "micro-batched / per-event",
                f"{batched / per_event:.1f}x",
                ">= 10x",
                "yes" if batched / per_event >= 10 else "no",
            ],
            [f"p50 latency at {batched / 2:,.0f} ev/s (ms, n={n})", p50, "", ""],
            ["p99 latency (ms)", p99, "<= 500", "yes" if p99 <= 500 else "no"],
        ],
    )
    write_json(
        args.json,
        {
            "model": args.model,
            "pipeline_events_per_s": batched,
            "per_event_events_per_s": per_event,
            "raw_model_items_per_s": raw,
            "p50_ms": p50,
            "p99_ms": p99,
        },
    )


if __name__ == "__main__":
    main()
