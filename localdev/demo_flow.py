"""The demo's flow, phase by phase: the stack and the model, the processes, the replay with its incident, the live
view and the summary. ``radar demo`` (services/cli/demo.py) only reads its options and calls ``run_demo``."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
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


def run_demo(options: DemoOptions, console: Console) -> int:
    """Everything end to end; 0 only when the scenario's incident was detected."""
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
            base = base.model_copy(update={"model_name": "sentiment_tiny"})
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
    receiver.on_delivery = lambda *_: _count_delivery(run)
    with running_receiver(receiver) as hook_url:
        dashboard = _start_processes(run, hook_url, secret, console)
        token = settings.api_read_token.get_secret_value()
        console.log(f"dashboard: [bold]{dashboard}/#token={token}[/]")
        console.log(f"ready {time.monotonic() - clock:.0f} s after start; logs in {run.logs}")
        scenario, truth, incident_wall = _stream(run, options, console)
        code = _summary(run, console, scenario, truth, incident_wall, dashboard, token, receiver)
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


def _stream(run: DemoRun, options: DemoOptions, console: Console) -> tuple[Any, dict[str, Any], float]:
    """Replay the demo scenario (real texts, an incident, malformed records) and watch until it has all closed."""
    from localdev.demo import add_malformed
    from localdev.scenarios import build_scenario

    settings, speedup = run.settings, options.speedup
    scenario = build_scenario(settings, "demo", options.seed)
    _, truth_path = scenario.write(settings.var_dir / "scenarios")
    truth = scenario.truth()["incidents"][0]
    records = add_malformed(scenario.events, random.Random(options.seed), 25)
    run.tally.invalid_sent = len(records) - len(scenario.events)
    console.log(
        f"replaying {len(scenario.events)} real texts ({scenario.spec.duration_min:.0f} simulated minutes at "
        f"{speedup:.0f}x) with an incident on {truth['entity']} from {truth['start'][11:16]} UTC; "
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
        done=lambda: _finished(run, replayer, scenario),
    )
    return scenario, truth, replay_started + (truth["start_min"] * 60) / speedup


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _count_delivery(run: DemoRun) -> None:
    with run.tally.lock:
        run.tally.deliveries += 1


def _replay(run: DemoRun, records: list[Any], speedup: float) -> None:
    from localdev.replay import replay
    from stream.producer import EventProducer

    def progress(_phase: str, done: int, _total: int, _figures: dict[str, float]) -> None:
        run.tally.sent = done

    with EventProducer(run.settings) as producer:
        summary = replay(records, producer, speedup=speedup, progress=progress, total=len(records), origin="demo")
    run.tally.sent = summary.sent + summary.failed


def _finished(run: DemoRun, replayer: threading.Thread, scenario: Any) -> bool:
    """The replay is done, every valid event is scored and the last minutes have had time to close."""
    if replayer.is_alive() or run.tally.scored < len(scenario.events):
        return False
    if run.finished_at is None:
        run.finished_at = time.monotonic()
    return time.monotonic() - run.finished_at > run.settings.idle_grace_s + run.settings.settle_s + 8


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


def _summary(
    run: DemoRun,
    console: Console,
    scenario: Any,
    truth: dict[str, Any],
    incident_wall: float,
    dashboard: str,
    token: str,
    receiver: Receiver,
) -> int:
    from collections import Counter

    t = run.tally
    start = datetime.fromisoformat(truth["start"])
    end = datetime.fromisoformat(truth["end"])
    on_target = [
        a for a in t.alerts if a["entity"] == truth["entity"] and start < datetime.fromisoformat(a["window_end"]) <= end
    ]
    other = [a for a in t.alerts if a not in on_target]
    table = Table(title="demo summary", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="left")
    table.add_row("events replayed", f"{len(scenario.events)} real texts + {t.invalid_sent} malformed records")
    table.add_row("scored", str(t.scored))
    table.add_row("dead letters", f"{t.dead_letters} (each with its reason)")
    table.add_row(
        "alerts", ", ".join(f"{d} {n}" for d, n in Counter(a["detector"] for a in t.alerts).items()) or "none"
    )
    if on_target:
        first = min(on_target, key=lambda a: a["window_end"])
        delay_min = (datetime.fromisoformat(first["window_end"]) - start).total_seconds() / 60
        wall = t.alert_seen_at[first["key"]] - incident_wall
        table.add_row(
            "incident",
            f"{truth['entity']} from {truth['start'][11:16]} UTC: DETECTED by "
            f"{first['detector']} {delay_min:.0f} simulated min after it began ({wall:.0f} s of wall time)",
        )
    else:
        table.add_row("incident", f"{truth['entity']} from {truth['start'][11:16]} UTC: NOT detected")
    table.add_row("other alerts", str(len(other)))
    verified = sum(receiver.verified)
    table.add_row("webhooks", f"{t.deliveries} delivered, {verified}/{len(receiver.verified)} signatures verified")
    table.add_row("dashboard", f"{dashboard}/#token={token}")
    console.print(table)
    return 0 if on_target else 1
