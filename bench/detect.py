"""Detection quality on real-like traffic, per detector, and aggregate throughput, in one run.

    uv run python -m bench.detect [--days 7] [--hours 24] [--labels both|model|gold] [--history-days 10]
        [--no-redis] [--broad-bursts] [--json PATH]

Every scenario draws each entity's volume from the traffic profile fitted on real Twitter mention counts
(daily and weekly cycles, overdispersion, ordinary bursts that are not incidents: ``localdev/traffic_profile.py``)
and its texts from the demo's (English, and Chinese for an entity with a Chinese name: ``scenario_texts``).
Minute stats are built from the texts as the served models score them (each unique text and target scored once,
cached) or from the human gold labels, and run through the stream's own detector code (``observe_minute``),
offline, with fresh detectors per run, or with ``--history-days 10`` as ``radar demo`` runs them: the volume
detector calibrates on its entity's own history (days of minutes), so fresh it never fires, and the demo seeds ten
days of each entity's counts before it replays, as a worker that had watched them that long would hold.

- every hour of the day: the seeded `smoke` and `demo` scenarios at ``--hours`` start hours of one simulated
  Monday (24: 00:00 to 23:00). The scenario follows the clock (the profile's daily cycle), so an incident at a
  quiet hour has fewer events, and fresh detectors fewer events to learn from before it. Each hour runs the
  scenario's own seed (the demo's default, 7), the same every hour: what changes from one hour to the next is
  the clock alone (the entities' popularities, noise path and ordinary bursts are drawn alike), so a miss says
  which hours are hard, not which draws were unlucky; the ``--days`` runs below vary the seed. Per incident and
  detector: detected in N of the start hours, median and worst delay, and the delay at each start hour.
- incidents detected, median and worst delay, per detector, over every incident run: those start hours and
  ``--days`` `incident-day` scenarios (each on another weekday); the delay is the first alert's window end minus
  the incident's start (ground truth); an alert counts for an incident up to 15 minutes after it ends.
- volume alone: ``--days`` `volume-day` scenarios, a volume-only incident (5x for 20 minutes in the entity's usual
  tone) beside ordinary bursts of the same 5x peak planted on purpose: incidents detected, and alerts on those bursts
  (each a false alert), in a table of their own;
- false alerts per entity-day, per detector: ``--days`` `clean-day` scenarios (no incident, every watchlist
  entity, each on another weekday), every alert counts; the goal is at most 0.1. Alerts that fall on an ordinary
  burst of the ground truth (from its start to 15 minutes after its end) are counted apart: they are false alerts
  all the same, but they say what the detector reacted to.
- who speaks: every event has an author (``localdev.scenarios.author_of``); an ordinary burst is a thread of a few
  accounts, unless ``--broad-bursts``, where its events come from the entity's audience like any other: what the
  detector of voices (``volume_breadth``) does where the scenarios' assumption fails.
- sustained aggregate updates/s: the Redis Lua store (dedupe + minute/hour buckets + evidence) on the local Redis.

Without served models (English: ``radar model train``, then ``radar model export``; Chinese: ``SERVING_ZH``, as
``bench.zh_fin`` chooses it), run ``--labels gold``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from bench.common import console, print_table, write_json
from bench.detect_hours import HourSweep, start_hours
from core.domain import VOICE_WINDOW_MINUTES
from core.errors import ConfigError
from core.settings import Settings
from inference.dataset import Example
from inference.labels import LABELS
from inference.model_store import chosen_zh_model, resolve_serving_model, serving_onnx_file
from inference.runtime import SentimentRuntime
from localdev.scenarios import SCENARIOS, Scenario, generate, scenario_texts
from storage.aggregates import AggregateStore, ScoredItem
from stream.detect import EntityDetectors, observe_minute, warmed
from stream.detectors import MinuteStats
from stream.detectors.registry import REGISTRY
from stream.entities import Entity, load_watchlist

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday
DETECTORS = tuple(name.value for name in REGISTRY)  # the columns: every detector the stream runs
GRACE = timedelta(minutes=15)  # an alert this long after an incident (or a burst) ends still belongs to it
ANY = "any detector"
HOURLY = (("smoke", 11), ("demo", 7))  # run at every start hour, each with its own seed (the demo's default: 7)

Scorer = Callable[[dict[str, Any]], tuple[str, float]]


@dataclass(frozen=True)
class Run:
    """One seeded scenario: regenerated on demand (generation is deterministic), so no run's events are kept."""

    label: str
    scenario: str
    seed: int
    start: datetime
    hour: int | None = None  # the start hour of a run of the hour sweep (:data:`HOURLY`)
    thread_bursts: bool = True  # ordinary bursts carried by a handful of accounts (False: ``--broad-bursts``)

    def build(self, texts: list[Example], watchlist: list[Entity]) -> Scenario:
        spec = replace(SCENARIOS[self.scenario], thread_bursts=self.thread_bursts)
        return generate(spec, texts, watchlist, seed=self.seed, start=self.start)


def plan(days: int, hours: int = 24, *, thread_bursts: bool = True) -> list[Run]:
    """The hour sweep (:data:`HOURLY` at each of :func:`start_hours`), then ``days`` incident days and clean days."""
    runs = [
        Run(f"{name} {hour:02d}:00", name, seed, START + timedelta(hours=hour), hour)
        for name, seed in HOURLY
        for hour in start_hours(hours)
    ]
    runs += [Run(f"incident-day #{s}", "incident-day", s, START + timedelta(days=s)) for s in range(days)]
    runs += [Run(f"clean-day #{s}", "clean-day", 100 + s, START + timedelta(days=s)) for s in range(days)]
    runs += [Run(f"volume-day #{s}", "volume-day", 200 + s, START + timedelta(days=s)) for s in range(days)]
    return [replace(run, thread_bursts=thread_bursts) for run in runs]


def planted_alerts(scenario: Scenario, alerts: list[dict[str, Any]]) -> dict[str, int]:
    """Alerts per detector (and ``ANY``) that fall on the scenario's planted ordinary bursts (from a burst's start
    to ``GRACE`` after its end): a detector that tells an incident from an ordinary burst of its peak raises none."""
    planted = {(b.entity, b.start_min) for b in scenario.spec.planted}
    spans = [b for b in scenario.truth()["bursts"] if (b["entity"], b["start_min"]) in planted]
    out: dict[str, int] = defaultdict(int)
    for alert in alerts:
        end = datetime.fromisoformat(str(alert["window_end"]))
        if any(b["entity"] == alert["entity"] and _within(end, b["start"], b["end"]) for b in spans):
            out[str(alert["detector"])] += 1
            out[ANY] += 1
    return dict(out)


def served_model(settings: Settings) -> Path | None:
    """The served model's directory, or None when only the untrained test model would be found."""
    if settings.model_dir is None and not (settings.cache_dir / "models" / "SERVING").exists():
        return None
    return resolve_serving_model(settings)


def text_scores(
    settings: Settings, model_dir: Path, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, float]]:
    """(label, score) per unique (text, target) from a served model (a text-level model ignores the target),
    cached by model and pair set."""
    onnx_file = serving_onnx_file(model_dir)
    unique = sorted(set(pairs))
    joined = "".join(f"{text}\x00{target}\x00" for text, target in unique)
    key = hashlib.sha256((str(model_dir) + onnx_file + joined).encode()).hexdigest()[:12]
    cache = settings.cache_dir / "bench" / f"text-scores-{key}.npy"
    if cache.exists():
        probs = np.load(cache)
    else:
        runtime = SentimentRuntime(model_dir, onnx_file=onnx_file)
        chunks = []
        with console.status(f"scoring {len(unique)} unique texts once with {model_dir.name}/{onnx_file}…"):
            for start in range(0, len(unique), 256):
                batch = unique[start : start + 256]
                chunks.append(runtime.predict([t for t, _ in batch], [g for _, g in batch]))
        probs = np.concatenate(chunks)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, probs)
    return {pair: (LABELS[int(p.argmax())], float(p[2] - p[0])) for pair, p in zip(unique, probs, strict=True)}


def model_scorer(settings: Settings, events: list[dict[str, Any]], watchlist: list[Entity]) -> Scorer:
    """Each event read by its language's served model (the English one, or the Chinese pair model chosen for
    serving), toward its entity's name; raises ConfigError where a language's model is missing."""
    models = {"en": served_model(settings), "zh": chosen_zh_model(settings)}
    names = {e.id: e.names[0] if e.names else e.id for e in watchlist}

    def pair(event: dict[str, Any]) -> tuple[str, str]:
        return str(event["text"]), names[str(event["meta"]["entity"])]

    scores: dict[str, dict[tuple[str, str], tuple[str, float]]] = {}
    for lang in sorted({str(e["lang"]) for e in events}):
        model_dir = models.get(lang)
        if model_dir is None:
            raise ConfigError(
                f"no served {lang} model (English: `radar model train`, then `radar model export`; Chinese: "
                "SERVING_ZH, which bench.zh_fin writes); pass --labels gold"
            )
        scores[lang] = text_scores(settings, model_dir, [pair(e) for e in events if e["lang"] == lang])
    return lambda event: scores[str(event["lang"])][pair(event)]


def gold(event: dict[str, Any]) -> tuple[str, float]:
    meta = event["meta"]
    return str(meta["label"]), max(-1.0, min(1.0, float(meta["rating"]) / 2.5))


def _published(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["published_at"]).replace("Z", "+00:00"))


def run_detectors(scenario: Scenario, score_of: Scorer, history_days: float = 0.0) -> list[dict[str, Any]]:
    """Per-entity minute stats -> the stream's detectors -> alerts (as the closer would raise them).

    Every entity is fed every minute of the scenario, empty ones included, as the closer does. With
    ``history_days``, the count-only detectors have first watched that many days of the entity's traffic (what
    ``radar demo`` seeds: :func:`localdev.history.seed_history`); otherwise every detector starts fresh.
    """
    history = scenario.history(history_days) if history_days > 0 else {}
    buckets: dict[tuple[str, int], list[tuple[str, float]]] = defaultdict(list)
    authors: dict[tuple[str, int], list[str]] = defaultdict(list)
    for e in scenario.events:
        key = (str(e["meta"]["entity"]), int(_published(e).timestamp() // 60))
        buckets[key].append(score_of(e))
        authors[key].append(str(e.get("author") or e["source"]))
    first = int(scenario.start.timestamp() // 60)
    entities = sorted({e["meta"]["entity"] for e in scenario.events})
    alerts: list[dict[str, Any]] = []
    for entity in entities:
        past = history.get(entity)
        detectors = warmed(past.tolist(), first - len(past)) if past is not None else EntityDetectors()
        voices: Counter[str] = Counter()  # the authors of the last VOICE_WINDOW_MINUTES minutes, with their events
        for minute in range(first, first + int(scenario.spec.duration_min)):
            items = buckets.get((entity, minute), [])
            voices.update(authors.get((entity, minute), []))
            voices.subtract(authors.get((entity, minute - VOICE_WINDOW_MINUTES), []))
            voices = +voices  # drop those with no event left in the window
            stats = MinuteStats(
                n=len(items),
                negative=sum(lab == "negative" for lab, _ in items),
                neutral=sum(lab == "neutral" for lab, _ in items),
                positive=sum(lab == "positive" for lab, _ in items),
                total=sum(s for _, s in items),
                total_sq=sum(s * s for _, s in items),
                voices=len(voices),
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
            "worst_delay_min": max(self.delays) if self.delays else None,
            "false_per_entity_day_clean": self.clean_false / max(self.clean_entity_days, 1e-9),
            "false_clean": self.clean_false,
            "false_clean_on_bursts": self.clean_false_on_bursts,
            "false_per_entity_day_incident_runs": self.incident_runs_false / max(self.incident_runs_entity_days, 1e-9),
        }


def _within(end: datetime, start: str, stop: str) -> bool:
    return datetime.fromisoformat(start) < end <= datetime.fromisoformat(stop) + GRACE


def assess(scenario: Scenario, alerts: list[dict[str, Any]], tallies: dict[str, Tally]) -> dict[str, Any]:
    """Add one run's alerts to the per-detector tallies (and to ``ANY``); returns the run's own figures: its
    false alerts per detector, and per incident each detector's delay (a missed incident has none) and the events
    of its entity before it (what fresh detectors had to learn the entity's usual from)."""
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
    incidents = [
        {
            "entity": inc["entity"],
            "start": inc["start"],
            "events_before": sum(
                e["meta"]["entity"] == inc["entity"] and _published(e) < datetime.fromisoformat(inc["start"])
                for e in scenario.events
            ),
            "delays": {d: v for (d, j), v in sorted(first.items()) if j == i},
        }
        for i, inc in enumerate(truth["incidents"])
    ]
    return {
        "events": len(scenario.events),
        "entity_days": entity_days,
        "bursts": len(truth["bursts"]),
        "false_alerts": dict(false),
        "on_bursts": dict(on_bursts),
        "incidents": incidents,
    }


async def redis_rate(settings: Settings, seconds: float = 5.0, batch: int = 500, *, authors: bool = True) -> float:
    """Events a second through the Lua store; each by an author of its own (a voice counted) unless not ``authors``."""
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
                    author=f"a{n + i}" if authors else None,
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
    if measure == "worst delay (min)":
        return "-" if row["worst_delay_min"] is None else f"{row['worst_delay_min']:.0f}"
    if measure == "false alerts / entity-day (clean days)":
        return f"{row['false_per_entity_day_clean']:.3f} ({row['false_clean']})"
    if measure == "  of them on ordinary bursts":
        return str(row["false_clean_on_bursts"])
    return f"{row['false_per_entity_day_incident_runs']:.3f}"


MEASURES = (
    "incidents detected",
    "median delay (min)",
    "worst delay (min)",
    "false alerts / entity-day (clean days)",
    "  of them on ordinary bursts",
    "false alerts / entity-day (incident runs)",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=7, help="clean days, and incident days (default %(default)s)")
    parser.add_argument(
        "--hours", type=int, default=24, help="start hours of the smoke and demo runs, 1-24 (default %(default)s)"
    )
    parser.add_argument("--labels", choices=("both", "model", "gold"), default="both")
    parser.add_argument(
        "--history-days",
        type=float,
        default=0.0,
        help="days of each entity's traffic its count-only detectors watch first (10: as `radar demo` seeds them; "
        "default: fresh detectors)",
    )
    parser.add_argument("--no-redis", action="store_true", help="skip the Redis throughput figure")
    parser.add_argument(
        "--broad-bursts",
        action="store_true",
        help="ordinary bursts carried by the entity's audience like any other event, not by a thread's handful of "
        "accounts: what the detector of voices (volume_breadth) does where the scenarios' assumption fails",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not 1 <= args.hours <= 24:
        parser.error("--hours: 1 to 24")
    settings = Settings()
    texts = scenario_texts(settings)
    watchlist = load_watchlist(settings.watchlist)
    runs = plan(args.days, args.hours, thread_bursts=not args.broad_bursts)
    scorers: dict[str, Scorer] = {}
    if args.labels in ("both", "model"):
        with console.status("generating the scenarios' texts…"):
            events = [e for run in runs for e in run.build(texts, watchlist).events]
        try:
            scorers["model"] = model_scorer(settings, events, watchlist)
        except ConfigError as error:
            parser.error(str(error))
        del events
    if args.labels in ("both", "gold"):
        scorers["gold"] = gold
    columns = ["measure", *DETECTORS, ANY]
    tallies = {labels: {d: Tally() for d in columns[1:]} for labels in scorers}
    volume_tallies = {labels: {d: Tally() for d in columns[1:]} for labels in scorers}  # volume-day runs apart
    on_planted: dict[str, dict[str, int]] = {labels: defaultdict(int) for labels in scorers}
    sweeps = {labels: HourSweep(tuple(columns[1:])) for labels in scorers}
    per_run: list[dict[str, Any]] = []
    for run in runs:
        with console.status(f"{run.label}: generating and detecting…"):
            scenario = run.build(texts, watchlist)
            for labels, score_of in scorers.items():
                alerts = run_detectors(scenario, score_of, args.history_days)
                volume_run = run.scenario == "volume-day"
                figures = assess(scenario, alerts, (volume_tallies if volume_run else tallies)[labels])
                if volume_run:
                    for detector, n in planted_alerts(scenario, alerts).items():
                        on_planted[labels][detector] += n
                if run.hour is not None:
                    sweeps[labels].add(run.scenario, run.hour, figures)
                per_run.append({"run": run.label, "labels": labels, **figures})
    warmth = f"volume detectors warmed on {args.history_days:g} days" if args.history_days > 0 else "fresh detectors"
    for labels, sweep in sweeps.items():
        prefix = f"{labels}: " if len(scorers) > 1 else ""
        print_table(
            f"{prefix}every start hour of the day ({', '.join(name for name, _ in HOURLY)} at {args.hours} start "
            f"hours, each scenario's seed every hour, {warmth})",
            columns,
            sweep.summary_rows(),
        )
        print_table(
            f"{prefix}delay (min) by start hour UTC, -: missed",
            ["incident: detector", *(f"{h:02d}" for h in sorted(sweep.hours))],
            sweep.grid_rows(),
            compact=True,
        )
    rows = [
        [f"{labels}: {m}" if len(scorers) > 1 else m, *(_cell(t[d], m) for d in columns[1:])]
        for labels, t in tallies.items()
        for m in MEASURES
    ]
    incident_runs = [r for r in runs if not r.scenario.startswith(("clean", "volume"))]
    print_table(
        f"detection on real-like traffic ({len(incident_runs)} incident runs, {args.days} clean days, "
        "stream detector code offline)",
        columns,
        rows,
    )
    volume_rows = [
        row
        for labels, per in volume_tallies.items()
        for row in (
            [f"{labels}: volume-only incidents detected", *(_cell(per[d], "incidents detected") for d in columns[1:])],
            [f"{labels}: median delay (min)", *(_cell(per[d], "median delay (min)") for d in columns[1:])],
            [f"{labels}: alerts on the same-peak ordinary bursts", *(str(on_planted[labels][d]) for d in columns[1:])],
            [
                f"{labels}: false alerts / entity-day (other)",
                *(_cell(per[d], "false alerts / entity-day (incident runs)") for d in columns[1:]),
            ],
        )
    ]
    print_table(
        f"volume alone ({args.days} volume-day runs: GLBX 5x for 20 min at 14:00 in its usual tone, and ordinary "
        "bursts of the same 5x peak, GLBX at 09:00 decaying in 7 min and INIT at 17:00 in 16)",
        columns,
        volume_rows,
    )
    rate: float | None = None
    if not args.no_redis:
        try:
            rate = asyncio.run(redis_rate(settings))
            voiceless = asyncio.run(redis_rate(settings, authors=False))
            console.print(
                f"Redis aggregate store: {rate:,.0f} events/s (dedupe + minute and hour buckets for the "
                f"entity and _all + evidence + voices, one Lua call); {voiceless:,.0f} events/s without an author "
                f"(no voice to count): {rate / voiceless:.2f}x"
            )
        except (RedisConnectionError, OSError) as error:
            console.print(f"Redis aggregate store: skipped ({error})")
    summary = {labels: {d: t.row() for d, t in per.items()} for labels, per in tallies.items()}
    hour_sweep = {
        labels: {**sweep.summary(), "delays": sweep.delays, "events_before": sweep.events_before}
        for labels, sweep in sweeps.items()
    }
    runs_json = [{**asdict(r), "start": r.start.isoformat()} for r in runs]
    write_json(
        args.json,
        {
            "summary": summary,
            "volume_only": {
                labels: {
                    "detectors": {d: t.row() for d, t in per.items()},
                    "alerts_on_same_peak_bursts": dict(on_planted[labels]),
                }
                for labels, per in volume_tallies.items()
            },
            "hour_sweep": hour_sweep,
            "redis_events_per_s": rate,
            "runs": runs_json,
            "per_run": per_run,
        },
    )


if __name__ == "__main__":
    main()
