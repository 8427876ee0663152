"""The demo's flow, phase by phase: the stack and the model, the processes, the replay with its incident, the live
view and the summary. ``radar demo`` (services/cli/demo.py) only reads its options and calls ``run_demo``."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from core.settings import Settings
from localdev.demo import DemoRun
from localdev.receiver import Receiver

__all__ = ["DemoOptions", "run_demo"]


@dataclass(frozen=True)
class DemoOptions:
    duration: float | None = None
    headless: bool = False
    speedup: float = 60.0
    workers: int = 2
    model: str = "trained"
    seed: int = 7
    keep_stack: bool = False
    summary_json: Path | None = None


def run_demo(options: DemoOptions, console: Console) -> int:
    """Everything end to end; 0 only when every incident of the scenario was detected."""
    clock = time.monotonic()
    console.rule("[bold]Opinion Radar demo")
    with _local_stack(Settings(), options, console) as base:
        run = DemoRun(base, console, speedup=options.speedup, workers=options.workers, headless=options.headless)
        try:
            return _run(run, options, console, clock)
        except KeyboardInterrupt:
            console.print("stopping…")
            return 1
        finally:
            run.stop.set()
            run.stop_children()


@contextmanager
def _local_stack(base: Settings, options: DemoOptions, console: Console) -> Iterator[Settings]:
    """Kafka, Redis and PostgreSQL, the model, then Triton; on the way out, stop what the demo itself started."""
    from core.progress import progress_reporter
    from localdev.model_setup import ensure_serving_model
    from localdev.stack import Stack

    started: list[str] = []

    def up(names: list[str], settings: Settings) -> None:
        for state in Stack(settings, names).up():
            console.log(f"{state.name}: {state.state} {state.detail}")
            if state.state == "started":
                started.append(state.name)

    try:
        with console.status("starting Kafka, Redis and PostgreSQL…"):
            up(["kafka", "redis", "postgres"], base)
        if options.model == "tiny":
            base = base.model_copy(update={"model_name": "sentiment_tiny", "model_name_zh": "sentiment_tiny_zh"})
            console.log("model: the tiny untrained model (smoke run; sentiment alerts will be noise)")
        else:
            with progress_reporter(console) as report:
                served, how = ensure_serving_model(base, report)
            console.log(f"model: {served.name} ({how})")
        with console.status("starting Triton…"):
            up(["triton"], base)
        yield base
    finally:
        if started and not options.keep_stack:
            Stack(base, started).down()
            console.log(f"stopped {', '.join(started)} (started by the demo)")


def _run(run: DemoRun, options: DemoOptions, console: Console, clock: float) -> int:
    from core.webhook_signing import new_secret
    from localdev.receiver import running_receiver

    settings = run.settings
    secret = new_secret()
    receiver = Receiver(secret=secret)
    receiver.on_delivery = lambda _headers, body: _count_delivery(run, body)
    with running_receiver(receiver) as hook_url:
        dashboard = _start_processes(run, hook_url, secret, console)
        token = settings.api_read_token.get_secret_value()
        console.log(f"dashboard: [bold]{dashboard}/#token={token}[/]")
        console.log(f"ready {time.monotonic() - clock:.0f} s after start; logs in {run.logs}")
        scenario, truths, replay_started = _stream(run, options, console)
        outcome = _outcome(run, scenario, truths, replay_started, options.speedup, receiver)
        _print_summary(run, console, scenario, outcome, dashboard, token)
        if options.summary_json is not None:
            _write_summary(options.summary_json, outcome)
            console.log(f"summary written to {options.summary_json}")
        code = 0 if outcome.incident_detected else 1
        if not options.headless:
            console.print("[dim]the dashboard stays up; Ctrl-C stops everything the demo started[/]")
            while True:
                time.sleep(1)
                run.check_children()
    return code


def _start_processes(run: DemoRun, hook_url: str, secret: str, console: Console) -> str:
    """Topics, schema and the demo's webhook subscription; then the workers, the dispatcher and the API."""
    from localdev.serve import free_port
    from storage.db import make_engine, make_sessionmaker, upgrade
    from storage.subscriptions import add_subscription
    from stream.topics import ensure_topics

    settings = run.settings
    ensure_topics(settings)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)  # what `radar db upgrade` runs: the services only check the revision
        with make_sessionmaker(engine).begin() as session:
            add_subscription(session, name=f"demo-{run.run_id}", url=hook_url, secret=secret, allow_private=True)
    finally:
        engine.dispose()
    api_port = settings.api_port if _port_free(settings.api_port) else free_port()
    with console.status(f"starting {run.workers} workers, the dispatcher and the API…"):
        for i in range(run.workers):
            run.spawn(f"worker-{i + 1}", "worker", "--loglevel", "warn", env={"RADAR_WORKER_METRICS_PORT": "0"})
        run.spawn("dispatcher", "dispatcher", env={"RADAR_DISPATCHER_METRICS_PORT": "0"})
        run.spawn("api", "api", "--port", str(api_port))
        dashboard = f"http://127.0.0.1:{api_port}"
        run.wait_for_api(dashboard)
        run.wait_for_group()
    return dashboard


def _stream(run: DemoRun, options: DemoOptions, console: Console) -> tuple[Any, list[dict[str, Any]], float]:
    """Replay the demo scenario (real texts in English and Chinese, an incident in each, malformed records) and
    watch until it has all closed. Returns the scenario, its incidents' ground truth, and when (monotonic) the
    replay started.

    The detectors have first watched ten days of the scenario's entities' counts, as a running desk's have: the
    volume detector calibrates on its entity's own days, and fresh it never fires."""
    from localdev.demo import add_malformed
    from localdev.history import HISTORY_DAYS, seed_history
    from localdev.scenarios import build_scenario

    settings, speedup = run.settings, options.speedup
    scenario = build_scenario(settings, "demo", options.seed)
    _, truth_path = scenario.write(settings.var_dir / "scenarios")
    truths = scenario.truth()["incidents"]
    with console.status(f"warming the volume detectors with {HISTORY_DAYS} days of each entity's counts…"):
        asyncio.run(seed_history(settings, scenario))
    records = add_malformed(scenario.events, random.Random(options.seed), 25)
    run.tally.invalid_sent = len(records) - len(scenario.events)
    console.log(
        f"replaying {len(scenario.events)} real texts ({scenario.spec.duration_min:.0f} simulated minutes at "
        f"{speedup:.0f}x) with incidents on "
        + ", ".join(f"{t['entity']} from {t['start'][11:16]} UTC" for t in truths)
        + "; "
        f"ground truth in {truth_path}"
    )
    for topic, handler in (
        (settings.topics.alerts, run.on_alert),
        (settings.topics.scored, run.on_scored),
        (settings.topics.deadletter, run.on_dead),
    ):
        run.consume(topic, handler)
    replay_started = time.monotonic()
    replayer = threading.Thread(target=_replay, args=(run, records, speedup), daemon=True)
    replayer.start()
    limit = options.duration if options.duration is not None else scenario.spec.duration_min * 60 / speedup + 60
    _watch(
        run,
        console,
        options.headless,
        total=len(records),
        limit=limit,
        done=lambda: _finished(run, replayer, scenario, truths),
    )
    return scenario, truths, replay_started


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _count_delivery(run: DemoRun, body: bytes) -> None:
    """Count a delivery; note when each alert's resolution reached the receiver (the demo's resolution figure)."""
    try:
        payload = json.loads(body)
        event, alert_id = payload["type"], payload["data"]["id"]
    except (ValueError, KeyError, TypeError):
        event, alert_id = None, None
    with run.tally.lock:
        run.tally.deliveries += 1
        if event == "alert.resolved":
            run.tally.resolved_delivered_at.setdefault(alert_id, time.monotonic())


def _replay(run: DemoRun, records: list[Any], speedup: float) -> None:
    from localdev.replay import replay
    from stream.producer import EventProducer

    def progress(_phase: str, done: int, _total: int, _figures: dict[str, float]) -> None:
        run.tally.sent = done

    with EventProducer(run.settings) as producer:
        summary = replay(records, producer, speedup=speedup, progress=progress, total=len(records), origin="demo")
    run.tally.sent = summary.sent + summary.failed


def _finished(run: DemoRun, replayer: threading.Thread, scenario: Any, truths: list[dict[str, Any]]) -> bool:
    """The replay is done, every valid event is scored, the last minutes have had time to close, and the incident's
    alerts have resolved with their resolution at the receiver (or a minute more has passed: the summary says so)."""
    if replayer.is_alive() or run.tally.scored < len(scenario.events):
        return False
    if run.finished_at is None:
        run.finished_at = time.monotonic()
    waited = time.monotonic() - run.finished_at
    if waited <= run.settings.idle_grace_s + run.settings.settle_s + 8:
        return False
    with run.tally.lock:
        incident = [a for a in run.tally.alerts if any(_on_target(a, truth) for truth in truths)]
        delivered = len(run.tally.resolved_delivered_at)
    resolved = all(a.get("status") == "resolved" for a in incident)
    return (resolved and delivered >= len(incident)) or waited > 60


def _watch(
    run: DemoRun, console: Console, headless: bool, *, total: int, limit: float, done: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + limit
    last_line = 0.0
    if headless:
        while time.monotonic() < deadline and not done():
            run.check_children()
            if time.monotonic() - last_line > 10:
                t = run.tally
                console.print(
                    f"sent {t.sent}/{total}  scored {t.scored}  dead letters {t.dead_letters}  "
                    f"alerts {len(t.alerts)}  webhooks {t.deliveries}"
                )
                last_line = time.monotonic()
            time.sleep(0.5)
        return
    with Live(run.view("streaming", total), console=console, refresh_per_second=4) as live:
        while time.monotonic() < deadline and not done():
            run.check_children()
            live.update(run.view("streaming", total))
            time.sleep(0.25)
        live.update(run.view("done", total))


def _on_target(alert: dict[str, Any], truth: dict[str, Any]) -> bool:
    """An alert on the incident's entity whose window ends inside the incident."""
    start, end = datetime.fromisoformat(truth["start"]), datetime.fromisoformat(truth["end"])
    return alert["entity"] == truth["entity"] and start < datetime.fromisoformat(alert["window_end"]) <= end


@dataclass
class IncidentOutcome:
    """One incident of the scenario as the demo saw it."""

    truth: dict[str, Any]
    detected: bool
    detection: str  # one line: by what, how long after the incident began
    resolution: str  # one line: how long after the incident ended alert.resolved reached the receiver
    story: str | None = None  # the first alert's explanation, as SQL holds it at the end (its resolution's)

    def to_json(self) -> dict[str, Any]:
        fields = ("entity", "start", "end")
        return {k: self.truth[k] for k in fields} | {
            "detected": self.detected,
            "detection": self.detection,
            "story": self.story,
        }


@dataclass
class DemoOutcome:
    """What the demo shows at the end and writes with --summary-json."""

    incidents: list[IncidentOutcome]
    other_alerts: int
    alerts: list[dict[str, Any]] = field(default_factory=list)  # from SQL: the run's alerts with their lifecycle
    webhooks: list[dict[str, Any]] = field(default_factory=list)  # what the receiver got, signature verified or not

    @property
    def incident_detected(self) -> bool:
        """Every incident of the scenario was detected (the demo's exit status)."""
        return all(i.detected for i in self.incidents)

    def to_json(self) -> dict[str, Any]:
        return {
            "incident_detected": self.incident_detected,
            "incidents": [i.to_json() for i in self.incidents],
            "other_alerts": self.other_alerts,
            "alerts": self.alerts,
            "webhooks": self.webhooks,
        }


def _outcome(
    run: DemoRun,
    scenario: Any,
    truths: list[dict[str, Any]],
    replay_started: float,
    speedup: float,
    receiver: Receiver,
) -> DemoOutcome:
    t = run.tally
    with t.lock:
        seen = list(t.alerts)
        resolved_at_receiver = dict(t.resolved_delivered_at)
    stored = _stored_alerts(run, {a["key"] for a in seen}, scenario.start)
    incidents = []
    for truth in truths:
        on_target = [a for a in seen if _on_target(a, truth)]
        start = datetime.fromisoformat(truth["start"])
        detection, resolution, story = "NOT detected", "no alert to resolve", None
        if on_target:
            first = min(on_target, key=lambda a: a["window_end"])
            delay_min = (datetime.fromisoformat(first["window_end"]) - start).total_seconds() / 60
            wall = t.alert_seen_at[first["key"]] - (replay_started + truth["start_min"] * 60 / speedup)
            detection = f"DETECTED by {first['detector']} {delay_min:.0f} simulated min after it began ({wall:.0f} s)"
            resolution = _resolution_line(on_target, stored, resolved_at_receiver, truth, replay_started, speedup)
            explained = [a.explanation for a in stored if a.key == first["key"] and a.explanation is not None]
            story = explained[0].summary if explained else None
        incidents.append(IncidentOutcome(truth, bool(on_target), detection, resolution, story))
    return DemoOutcome(
        incidents=incidents,
        other_alerts=sum(1 for a in seen if not any(_on_target(a, truth) for truth in truths)),
        alerts=[_alert_summary(a) for a in stored],
        webhooks=_webhooks_summary(receiver),
    )


def _resolution_line(
    on_target: list[dict[str, Any]],
    stored: list[Any],
    resolved_at_receiver: dict[int, float],
    truth: dict[str, Any],
    replay_started: float,
    speedup: float,
) -> str:
    keys = {a["key"] for a in on_target}
    mine = [a for a in stored if a.key in keys]
    if not mine or any(a.resolved_at is None or a.id not in resolved_at_receiver for a in mine):
        return "NOT resolved by the end of the replay"
    end = datetime.fromisoformat(truth["end"])
    last = max(mine, key=lambda a: a.resolved_at)
    simulated = (last.resolved_at - end).total_seconds() / 60
    incident_end_wall = replay_started + (truth["start_min"] + truth["duration_min"]) * 60 / speedup
    wall = max(resolved_at_receiver[a.id] for a in mine) - incident_end_wall
    return f"alert.resolved at the receiver {simulated:.0f} simulated min after it ended ({wall:.0f} s)"


def _stored_alerts(run: DemoRun, keys: set[str], since: datetime) -> list[Any]:
    """This run's alerts as SQL holds them (the database may hold other runs' too)."""
    from storage.alerts_repo import alert_from_row, list_alerts
    from storage.db import make_engine, make_sessionmaker

    engine = make_engine(run.settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = list_alerts(session, since=since, limit=500)
            return sorted((alert_from_row(r) for r in rows if r.alert_key in keys), key=lambda a: a.id)
    finally:
        engine.dispose()


def _alert_summary(alert: Any) -> dict[str, Any]:
    fields = alert.model_dump(mode="json", include={"id", "entity", "detector", "severity", "status", "explanation"})
    stamps = {k: getattr(alert, k) for k in ("opened_at", "resolved_at")}
    return fields | {k: v.isoformat() if v is not None else None for k, v in stamps.items()}


def _webhooks_summary(receiver: Receiver) -> list[dict[str, Any]]:
    with receiver.lock:
        received = list(zip(receiver.received, receiver.verified, strict=False))
    out = []
    for (_headers, body, answer), verified in received:
        if answer != "ok":
            continue
        try:
            payload = json.loads(body)
            out.append({"type": payload["type"], "alert_id": payload["data"]["id"], "verified": verified})
        except (ValueError, KeyError, TypeError):
            out.append({"type": None, "alert_id": None, "verified": verified})
    return out


def _write_summary(path: Path, outcome: DemoOutcome) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outcome.to_json(), indent=2, ensure_ascii=False) + "\n")


def _print_summary(
    run: DemoRun, console: Console, scenario: Any, outcome: DemoOutcome, dashboard: str, token: str
) -> None:
    from collections import Counter

    t = run.tally
    table = Table(title="demo summary", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="left")
    table.add_row("events replayed", f"{len(scenario.events)} real texts + {t.invalid_sent} malformed records")
    table.add_row("scored", str(t.scored))
    table.add_row("dead letters", f"{t.dead_letters} (each with its reason)")
    by_detector = Counter(a["detector"] for a in outcome.alerts)
    by_status = Counter(a["status"] for a in outcome.alerts)
    table.add_row(
        "alerts",
        (", ".join(f"{d} {n}" for d, n in by_detector.items()) or "none")
        + (f"  ({', '.join(f'{n} {s}' for s, n in by_status.items())})" if by_status else ""),
    )
    for incident in outcome.incidents:
        truth = incident.truth
        table.add_row("incident", f"{truth['entity']} from {truth['start'][11:16]} UTC: {incident.detection}")
        table.add_row("resolution", incident.resolution)
        if incident.story:
            table.add_row("its story", incident.story)
    table.add_row("other alerts", str(outcome.other_alerts))
    types = Counter(w["type"] for w in outcome.webhooks)
    verified = sum(1 for w in outcome.webhooks if w["verified"])
    table.add_row(
        "webhooks",
        f"{', '.join(f'{n} {k}' for k, n in types.items()) or 'none'}; "
        f"{verified}/{len(outcome.webhooks)} signatures verified",
    )
    table.add_row("dashboard", f"{dashboard}/#token={token}")
    console.print(table)
