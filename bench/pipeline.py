"""End-to-end scoring throughput and latency through Kafka + Faust + Triton, side by side, in one run.

    uv run python -m bench.pipeline [--model sentiment] [--model-zh sentiment_zh] [--zh-share 0.25]
        [--events 3000] [--repeats 3] [--json PATH]

The feed is bilingual: real English texts with a ``--zh-share`` of real Chinese ones among them, so the worker
detects each event's language and sends it to that language's model.

1. raw models: the served models straight over async gRPC (each language's texts to its model, batch 64, 8 in
   flight per model), no Kafka;
2. micro-batched: a backlog of N texts, one `radar worker --agents score`, default batching;
   1 and 2 run in turn ``--repeats`` times (this machine's raw figure has ranged 2x from one run to the next, so a
   single pair of runs says little): medians with their min-max;
3. latency published -> scored (p50/p99) with events paced at half of that run's micro-batched maximum, in each
   of the ``--repeats`` runs (medians with min-max), and once at ``--curve`` fractions of it (p99 against load:
   why one run's p99 differs from the next);
4. per-event: the same with one event per Triton request (RADAR_MAX_BATCH_SIZE=1, one agent).
Needs the local stack (`radar stack up`).

Why p99 at "half the maximum" moves so much from run to run: the maximum is measured on a backlog, where every
Triton request carries 64 texts; paced events arrive a few per batch window, so each request carries few texts and
pays the per-request costs (gRPC, the Python backend, a Kafka round trip per batch) for fewer of them. Half the
backlog maximum is therefore much more than half of what the paced pipeline can do, and near its capacity the
queue (and p99) grows steeply with load: the ``--curve`` rows show it. On two cores shared by Triton's two model
instances, Kafka, the worker and the producer, a few percent of capacity taken by anything else moves p99 by
hundreds of milliseconds. The served models' onnxruntime threads used to spin between runs (its default), and two
models' spinning pools took exactly those cores: p99 at half the maximum was 692 and 719 ms in the runs before and
after one with spinning off (332 ms, the maximum itself 303 -> 393 events/s); `inference/runtime.py` turns it off.
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

from bench.common import console, mixed_texts, print_table, write_json
from bench.model_throughput import triton_mix_rate
from core.language import detect_lang, model_lang
from core.settings import Settings, TopicNames
from core.signals import stopping_on_signals
from localdev.workers import running_worker
from stream.producer import EventProducer
from stream.topics import ensure_topics


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


def spread(values: list[float], digits: int = 1) -> str:
    """Median with min-max.

    >>> spread([3.0, 1.0, 2.0]), spread([0.81, 0.77, 0.9], 2)
    ('2.0 (1.0-3.0)', '0.81 (0.77-0.90)')
    """
    return f"{np.median(values):,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def main() -> None:
    with stopping_on_signals():  # SIGTERM (timeout, CI) stops the workers it started, as Ctrl-C does
        _main()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="sentiment")
    parser.add_argument("--model-zh", default="sentiment_zh")
    parser.add_argument("--zh-share", type=float, default=0.25, help="share of Chinese texts in the feed")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3, help="raw-model and pipeline runs, in turn")
    parser.add_argument("--per-event-events", type=int, default=600)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument(
        "--curve", default="0.2,0.35", help="fractions of the maximum to measure latency at once (empty: none)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    base = Settings().model_copy(update={"model_name": args.model, "model_name_zh": args.model_zh})
    texts = mixed_texts(base, 512, args.zh_share)
    by_model: dict[str, list[str]] = {}
    for text in texts:
        by_model.setdefault(args.model_zh if model_lang(detect_lang(text)) == "zh" else args.model, []).append(text)
    logs = Path("var/log/bench")
    logs.mkdir(parents=True, exist_ok=True)
    model_env = {"RADAR_MODEL_NAME": args.model, "RADAR_MODEL_NAME_ZH": args.model_zh}
    mix = ", ".join(f"{name} {len(t)}" for name, t in by_model.items())

    raws: list[float] = []
    batched_runs: list[float] = []
    latencies: list[tuple[float, float, float, int]] = []  # rate, p50, p99, n
    for run in range(1, args.repeats + 1):
        console.log(f"run {run}/{args.repeats}: raw models over gRPC ({mix} texts)…")
        raws.append(triton_mix_rate(base, by_model, 64))
        console.log(f"  {raws[-1]:,.0f} items/s")
        console.log(f"run {run}/{args.repeats}: micro-batched backlog of {args.events} events…")
        log = logs / f"pipeline-batched-{run}.log"
        batched_runs.append(backlog_rate(fresh(base, "mb"), texts, args.events, log, model_env))
        console.log(f"  {batched_runs[-1]:,.0f} events/s")
        rate = batched_runs[-1] / 2
        console.log(f"run {run}/{args.repeats}: latency at half of it ({rate:,.0f} events/s)…")
        log = logs / f"pipeline-latency-{run}.log"
        latencies.append((rate, *paced_latency(fresh(base, "lat"), texts, rate, args.latency_seconds, log, model_env)))
        console.log(f"  p50 {latencies[-1][1]:,.0f} ms, p99 {latencies[-1][2]:,.0f} ms")
    batched, raw = float(np.median(batched_runs)), float(np.median(raws))
    ratios = [b / r for b, r in zip(batched_runs, raws, strict=True)]
    curve: list[tuple[float, float, float, float, int]] = []  # fraction, rate, p50, p99, n
    for fraction in [float(f) for f in args.curve.split(",") if f.strip()]:
        rate = batched * fraction
        console.log(f"latency at {fraction:.0%} of the maximum ({rate:,.0f} events/s)…")
        log = logs / f"pipeline-latency-{fraction:.2f}.log"
        curve.append(
            (fraction, rate, *paced_latency(fresh(base, "lat"), texts, rate, args.latency_seconds, log, model_env))
        )
    console.log("one event per request…")
    per_event_env = {**model_env, "RADAR_MAX_BATCH_SIZE": "1", "RADAR_SCORE_CONCURRENCY": "1"}
    per_event = backlog_rate(
        fresh(base, "pe"), texts, args.per_event_events, logs / "pipeline-per-event.log", per_event_env
    )
    console.log(f"  {per_event:,.0f} events/s")
    p50s, p99s = [p50 for _, p50, _, _ in latencies], [p99 for _, _, p99, _ in latencies]
    p99 = float(np.median(p99s))

    ratio = batched / raw
    print_table(
        f"scoring pipeline, models {args.model} + {args.model_zh}, {args.zh_share:.0%} Chinese "
        f"(Kafka + Faust + Triton, one worker, this machine; medians of {args.repeats} runs, min-max)",
        ["measure", "value", "goal", "met"],
        [
            ["raw models over gRPC, batch 64 (items/s)", spread(raws), "", ""],
            ["pipeline, micro-batched (events/s)", spread(batched_runs), "", ""],
            ["pipeline / raw models (of the medians)", f"{ratio:.2f}", ">= 0.8", "yes" if ratio >= 0.8 else "no"],
            ["pipeline / raw models, run by run", spread(ratios, 2), "", ""],
            ["pipeline, one event per request (events/s)", per_event, "", ""],
            [
                "micro-batched / per-event",
                f"{batched / per_event:.1f}x",
                ">= 10x",
                "yes" if batched / per_event >= 10 else "no",
            ],
            [f"p50 latency at half of each run's maximum (ms, {len(latencies)} runs)", spread(p50s, 0), "", ""],
            [
                "p99 latency at half of each run's maximum (ms)",
                spread(p99s, 0),
                "<= 500",
                "yes" if p99 <= 500 else "no",
            ],
            *(
                [
                    f"p50 / p99 at {fraction:.0%} of the maximum, {rate:,.0f} ev/s (ms)",
                    f"{c50:,.0f} / {c99:,.0f}",
                    "",
                    "",
                ]
                for fraction, rate, c50, c99, _ in curve
            ),
        ],
    )
    write_json(
        args.json,
        {
            "models": {"en": args.model, "zh": args.model_zh},
            "zh_share": args.zh_share,
            "texts_per_model": {name: len(t) for name, t in by_model.items()},
            "pipeline_events_per_s": batched,
            "pipeline_runs": batched_runs,
            "raw_model_items_per_s": raw,
            "raw_model_runs": raws,
            "ratio_runs": ratios,
            "per_event_events_per_s": per_event,
            "p50_ms": float(np.median(p50s)),
            "p99_ms": p99,
            "latency_runs": [{"rate": r, "p50_ms": a, "p99_ms": b, "n": n} for r, a, b, n in latencies],
            "latency_curve": [{"fraction": f, "rate": r, "p50_ms": a, "p99_ms": b, "n": n} for f, r, a, b, n in curve],
        },
    )


if __name__ == "__main__":
    main()
