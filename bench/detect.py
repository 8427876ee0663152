"""Detection quality on real-like traffic, per detector, and aggregate throughput, in one run.

    uv run python -m bench.detect [--days 7] [--labels both|model|gold] [--no-redis] [--json PATH]

Every scenario draws each entity's volume from the traffic profile fitted on real Twitter mention counts
(daily and weekly cycles, overdispersion, ordinary bursts that are not incidents: ``localdev/traffic_profile.py``).
Minute stats are built from the texts as the served model scores them (each unique text scored once, cached) or
from the human gold labels, and run through the stream's own detector code (``observe_minute``), offline.

- incidents detected and median delay, per detector: the seeded `smoke` and `demo` scenarios and ``--days``
  `incident-day` scenarios (each on another weekday); the delay is the first alert's window end minus the
  incident's start (ground truth); an alert counts for an incident up to 15 minutes after it ends.
- false alerts per entity-day, per detector: ``--days`` `clean-day` scenarios (no incident, every watchlist
  entity, each on another weekday), every alert counts; the goal is at most 0.1. Alerts that fall on an ordinary
  burst of the ground truth (from its start to 15 minutes after its end) are counted apart: they are false alerts
  all the same, but they say what the detector reacted to.
- sustained aggregate updates/s: the Redis Lua store (dedupe + minute/hour buckets + evidence) on the local Redis.

Without a served model (``radar model train``, then ``radar model export``), run ``--labels gold``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from bench.common import console, print_table, write_json
from core.settings import Settings
from inference.dataset import Example, fetch_vader_sdist, parse_sdist
from inference.labels import LABELS
from inference.model_store import resolve_serving_model, serving_onnx_file
from inference.runtime import SentimentRuntime
from localdev.scenarios import SCENARIOS, Scenario, generate
from storage.aggregates import AggregateStore, ScoredItem
from stream.detect import EntityDetectors, observe_minute
from stream.detectors import MinuteStats
from stream.detectors.registry import REGISTRY
from stream.entities import Entity, load_watchlist

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday
DETECTORS = tuple(name.value for name in REGISTRY)  # the columns: every detector the stream runs
GRACE = timedelta(minutes=15)  # an alert this long after an incident (or a burst) ends still belongs to it
ANY = "any detector"

Scorer = Callable[[dict[str, Any]], tuple[str, float]]


@dataclass(frozen=True)
class Run:
    """One seeded scenario: regenerated on demand (generation is deterministic), so no run's events are kept."""

    label: str
    scenario: str
    seed: int
    start: datetime

    def build(self, texts: list[Example], watchlist: list[Entity]) -> Scenario:
        return generate(SCENARIOS[self.scenario], texts, watchlist, seed=self.seed, start=self.start)


def plan(days: int) -> list[Run]:
    runs = [Run("smoke", "smoke", 11, START + timedelta(hours=9)), Run("demo", "demo", 7, START + timedelta(hours=9))]
    runs += [Run(f"incident-day #{s}", "incident-day", s, START + timedelta(days=s)) for s in range(days)]
    runs += [Run(f"clean-day #{s}", "clean-day", 100 + s, START + timedelta(days=s)) for s in range(days)]
    return runs


def served_model(settings: Settings) -> Path | None:
    """The served model's directory, or None when only the untrained test model would be found."""
    if settings.model_dir is None and not (settings.cache_dir / "models" / "SERVING").exists():
        return None
    return resolve_serving_model(settings)


def text_scores(settings: Settings, model_dir: Path, texts: list[str]) -> dict[str, tuple[str, float]]:
    """(label, score) per unique text from the served model, cached by model and text set."""
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


def gold(event: dict[str, Any]) -> tuple[str, float]:
    meta = event["meta"]
    return str(meta["label"]), max(-1.0, min(1.0, float(meta["rating"]) / 2.5))


def run_detectors(scenario: Scenario, score_of: Scorer) -> list[dict[str, Any]]:
    """Per-entity minute stats -> the stream's detectors -> alerts (as the closer would raise them).

    Every entity is fed every minute of the scenario, empty ones included, as the closer does.
    """
    buckets: dict[tuple[str, int], list[tuple[str, float]]] = defaultdict(list)
    for e in scenario.events:
        minute = int(datetime.fromisoformat(str(e["published_at"]).replace("Z", "+00:00")).timestamp() // 60)
        buckets[(str(e["meta"]["entity"]), minute)].append(score_of(e))
    first = int(scenario.start.timestamp() // 60)
    entities = sorted({e["meta"]["entity"] for e in scenario.events})
    alerts: list[dict[str, Any]] = []
    for entity in entities:
        detectors = EntityDetectors()
        for minute in range(first, first + int(scenario.spec.duration_min)):
            items = buckets.get((entity, minute), [])
            stats = MinuteStats(
                n=len(items),
                negative=sum(lab == "negative" for lab, _ in items),
                neutral=sum(lab == "neutral" for lab, _ in items),
                positive=sum(lab == "positive" for lab, _ in items),
                total=sum(s for _, s in items),
                total_sq=sum(s * s for _, s in items),
            )
            alerts.extend(a.to_json() for a in observe_minute(detectors, entity, minute, stats))
    return alerts


@dataclass
class Tally:
    """One detector's figures over the runs of one label set."""

    incidents: int = 0
    delays: list[float] = field(default_factory=list)  # one per detected incident: its first alert
    clean_false: int = 0
    clean_false_on_bursts: int = 0
    clean_entity_days: float = 0.0
    incident_runs_false: int = 0
    incident_runs_entity_days: float = 0.0

    def row(self) -> dict[str, Any]:
        return {
            "detected": f"{len(self.delays)}/{self.incidents}",
            "median_delay_min": float(np.median(self.delays)) if self.delays else None,
            "false_per_entity_day_clean": self.clean_false / max(self.clean_entity_days, 1e-9),
            "false_clean": self.clean_false,
            "false_clean_on_bursts": self.clean_false_on_bursts,
            "false_per_entity_day_incident_runs": self.incident_runs_false / max(self.incident_runs_entity_days, 1e-9),
        }


def _within(end: datetime, start: str, stop: str) -> bool:
    return datetime.fromisoformat(start) < end <= datetime.fromisoformat(stop) + GRACE


def assess(scenario: Scenario, alerts: list[dict[str, Any]], tallies: dict[str, Tally]) -> dict[str, Any]:
    """Add one run's alerts to the per-detector tallies (and to ``ANY``); returns the run's own figures."""
    truth = scenario.truth()
    clean = not truth["incidents"]
    entity_days = len({e["meta"]["entity"] for e in scenario.events}) * scenario.spec.duration_min / 1440
    first: dict[tuple[str, int], float] = {}  # (detector, incident) -> first delay
    false: dict[str, int] = defaultdict(int)
    on_bursts: dict[str, int] = defaultdict(int)
    for alert in alerts:
        end = datetime.fromisoformat(str(alert["window_end"]))
        hit = [
            i
            for i, inc in enumerate(truth["incidents"])
            if inc["entity"] == alert["entity"] and _within(end, inc["start"], inc["end"])
        ]
        for detector in (alert["detector"], ANY):
            for i in hit:
                delay = (end - datetime.fromisoformat(truth["incidents"][i]["start"])).total_seconds() / 60
                first[(detector, i)] = min(first.get((detector, i), delay), delay)
            if not hit:
                false[detector] += 1
                on_bursts[detector] += any(
                    b["entity"] == alert["entity"] and _within(end, b["start"], b["end"]) for b in truth["bursts"]
                )
    for detector, tally in tallies.items():
        if clean:
            tally.clean_false += false[detector]
            tally.clean_false_on_bursts += on_bursts[detector]
            tally.clean_entity_days += entity_days
        else:
            tally.incidents += len(truth["incidents"])
            tally.delays += [d for (name, _), d in first.items() if name == detector]
            tally.incident_runs_false += false[detector]
            tally.incident_runs_entity_days += entity_days
    return {
        "events": len(scenario.events),
        "entity_days": entity_days,
        "bursts": len(truth["bursts"]),
        "false_alerts": dict(false),
        "on_bursts": dict(on_bursts),
        "delays": {f"{d} #{i}": v for (d, i), v in first.items()},
    }


async def redis_rate(settings: Settings, seconds: float = 5.0, batch: int = 500) -> float:
    client = aioredis.from_url(settings.redis_url)
    store = AggregateStore(client, prefix=f"radar:bench{uuid.uuid4().hex[:6]}:")
    entities = ["ACME", "GLBX", "INIT", "UMBR", "STRK"]
    started, n = time.perf_counter(), 0
    try:
        while time.perf_counter() - started < seconds:
            items = [
                ScoredItem(
                    f"e{n + i}",
                    "news",
                    (entities[(n + i) % 5],),
                    "negative",
                    -0.5,
                    START + timedelta(seconds=(n + i) % 86400),
                    "bench text",
                )
                for i in range(batch)
            ]
            await store.add_batch(items)
            n += batch
        rate = n / (time.perf_counter() - started)
        keys = [k async for k in client.scan_iter(f"{store.keys.prefix}*")]
        for i in range(0, len(keys), 1000):
            await client.delete(*keys[i : i + 1000])
    finally:
        await client.aclose()
    return rate


def _cell(tally: Tally, measure: str) -> str:
    row = tally.row()
    if measure == "incidents detected":
        return str(row["detected"])
    if measure == "median delay (min)":
        return "-" if row["median_delay_min"] is None else f"{row['median_delay_min']:.1f}"
    if measure == "false alerts / entity-day (clean days)":
        return f"{row['false_per_entity_day_clean']:.3f} ({row['false_clean']})"
    if measure == "  of them on ordinary bursts":
        return str(row["false_clean_on_bursts"])
    return f"{row['false_per_entity_day_incident_runs']:.3f}"


MEASURES = (
    "incidents detected",
    "median delay (min)",
    "false alerts / entity-day (clean days)",
    "  of them on ordinary bursts",
    "false alerts / entity-day (incident runs)",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=7, help="clean days, and incident days (default %(default)s)")
    parser.add_argument("--labels", choices=("both", "model", "gold"), default="both")
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis throughput figure")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    texts = parse_sdist(fetch_vader_sdist(settings.cache_dir))
    watchlist = load_watchlist(settings.watchlist)
    runs = plan(args.days)
    scorers: dict[str, Scorer] = {}
    if args.labels in ("both", "model"):
        model_dir = served_model(settings)
        if model_dir is None:
            parser.error("no served model (`radar model train`, then `radar model export`); pass --labels gold")
        with console.status("generating the scenarios' texts…"):
            all_texts = [e["text"] for run in runs for e in run.build(texts, watchlist).events]
        scores = text_scores(settings, model_dir, all_texts)
        scorers["model"] = lambda event: scores[event["text"]]
    if args.labels in ("both", "gold"):
        scorers["gold"] = gold
    tallies = {labels: {d: Tally() for d in (*DETECTORS, ANY)} for labels in scorers}
    per_run: list[dict[str, Any]] = []
    for run in runs:
        with console.status(f"{run.label}: generating and detecting…"):
            scenario = run.build(texts, watchlist)
            for labels, score_of in scorers.items():
                figures = assess(scenario, run_detectors(scenario, score_of), tallies[labels])
                per_run.append({"run": run.label, "labels": labels, **figures})
    columns = ["measure", *DETECTORS, ANY]
    rows = [
        [f"{labels}: {m}" if len(scorers) > 1 else m, *(_cell(t[d], m) for d in columns[1:])]
        for labels, t in tallies.items()
        for m in MEASURES
    ]
    incident_runs = [r for r in runs if not r.scenario.startswith("clean")]
    print_table(
        f"detection on real-like traffic ({len(incident_runs)} incident runs, {args.days} clean days, "
        "stream detector code offline)",
        columns,
        rows,
    )
    rate: float | None = None
    if not args.no_redis:
        try:
            rate = asyncio.run(redis_rate(settings))
            console.print(
                f"Redis aggregate store: {rate:,.0f} events/s (dedupe + minute and hour buckets for the "
                "entity and _all + evidence, one Lua call)"
            )
        except (RedisConnectionError, OSError) as error:
            console.print(f"Redis aggregate store: skipped ({error})")
    summary = {labels: {d: t.row() for d, t in per.items()} for labels, per in tallies.items()}
    runs_json = [{**asdict(r), "start": r.start.isoformat()} for r in runs]
    write_json(args.json, {"summary": summary, "redis_events_per_s": rate, "runs": runs_json, "per_run": per_run})


if __name__ == "__main__":
    main()
