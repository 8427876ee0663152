"""``radar demo``: see services/demo.py. Exit status 0 only when the scenario's incident was detected."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from core.settings import Settings

if TYPE_CHECKING:
    from services.demo import DemoRun
    from services.webhooks.receiver import Receiver

__all__ = ["demo_cmd"]


def demo_cmd(
    duration: Annotated[
        float | None, typer.Option(help="seconds of streaming before the summary (default: the scenario)")
    ] = None,
    headless: Annotated[bool, typer.Option(help="plain log lines; exit after the summary")] = False,
    speedup: Annotated[float, typer.Option(help="event-time compression of the replay")] = 60.0,
    workers: Annotated[int, typer.Option(help="Faust worker processes")] = 2,
    model: Annotated[str, typer.Option(help="trained (default) or tiny (untrained, for a fast smoke run)")] = "trained",
    seed: int = 7,
    keep_stack: Annotated[bool, typer.Option(help="leave Kafka, Redis, PostgreSQL and Triton running")] = False,
) -> None:
    """Everything end to end: stack, model, workers, dispatcher, API, a replay with an incident, live alerts."""
    from services.demo import DemoRun, add_malformed
    from services.kafka_io.admin import ensure_topics
    from services.model_setup import ensure_serving_model
    from services.progress import progress_reporter
    from services.replay_cli import build_scenario
    from services.stack import Stack
    from services.webhooks.receiver import Receiver, free_port, running_receiver
    from services.webhooks.signing import new_secret
    from storage.db import make_engine, make_sessionmaker, upgrade
    from storage.models import WebhookSubscription

    console = Console()
    clock = time.monotonic()
    base = Settings()
    started_services: list[str] = []
    console.rule("[bold]Opinion Radar demo")
    with console.status("starting Kafka, Redis and PostgreSQL…"):
        for state in Stack(base, ["kafka", "redis", "postgres"]).up():
            console.log(f"{state.name}: {state.state} {state.detail}")
            if state.state == "started":
                started_services.append(state.name)
    if model == "tiny":
        base = base.model_copy(update={"model_name": "sentiment_tiny"})
        console.log("model: the tiny untrained model (smoke run; sentiment alerts will be noise)")
    else:
        with progress_reporter(console) as report:
            served, how = ensure_serving_model(base, report)
        console.log(f"model: {served.name} ({how})")
    with console.status("starting Triton…"):
        for state in Stack(base, ["triton"]).up():
            console.log(f"{state.name}: {state.state} {state.detail}")
            if state.state == "started":
                started_services.append(state.name)

    run = DemoRun(base, console, speedup=speedup, workers=workers, headless=headless)
    settings = run.settings
    ensure_topics(settings)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    secret = new_secret()
    receiver = Receiver(secret=secret)
    receiver.on_delivery = lambda *_: _count_delivery(run)
    api_port = settings.api_port if _port_free(settings.api_port) else free_port()
    code = 1
    try:
        with running_receiver(receiver) as hook_url:
            with make_sessionmaker(engine).begin() as session:
                session.add(WebhookSubscription(name=f"demo-{run.run_id}", url=hook_url, secret=secret, enabled=True,
                                                allow_private=True, created_at=datetime.now(UTC)))  # fmt: skip
            with console.status(f"starting {workers} workers, the dispatcher and the API…"):
                for i in range(workers):
                    run.spawn(f"worker-{i + 1}", "worker", "--loglevel", "warn", env={"RADAR_WORKER_METRICS_PORT": "0"})
                run.spawn("dispatcher", "dispatcher", env={"RADAR_DISPATCHER_METRICS_PORT": "0"})
                run.spawn("api", "api", "--port", str(api_port))
                dashboard = f"http://127.0.0.1:{api_port}"
                run.wait_for_api(dashboard)
                run.wait_for_group()
            token = settings.api_read_token.get_secret_value()
            console.log(f"dashboard: [bold]{dashboard}/#token={token}[/]")
            console.log(f"ready {time.monotonic() - clock:.0f} s after start; logs in {run.logs}")

            scenario = build_scenario(settings, "demo", seed)
            _, truth_path = scenario.write(settings.var_dir / "scenarios")
            truth = scenario.truth()["incidents"][0]
            records = add_malformed(scenario.events, random.Random(seed), 25)
            run.tally.invalid_sent = len(records) - len(scenario.events)
            console.log(f"replaying {len(scenario.events)} real texts ({scenario.spec.duration_min:.0f} simulated "
                        f"minutes at {speedup:.0f}x) with an incident on {truth['entity']} from "
                        f"{truth['start'][11:16]} UTC; ground truth in {truth_path}")  # fmt: skip
            for topic, handler in ((settings.topics.alerts, run.on_alert), (settings.topics.scored, run.on_scored),
                                   (settings.topics.deadletter, run.on_dead)):  # fmt: skip
                run.consume(topic, handler)
            replay_started = time.monotonic()
            replayer = threading.Thread(target=_replay, args=(run, records, speedup), daemon=True)
            replayer.start()
            limit = duration if duration is not None else scenario.spec.duration_min * 60 / speedup + 60
            incident_wall = replay_started + (truth["start_min"] * 60) / speedup
            _watch(
                run, console, headless, total=len(records), limit=limit, done=lambda: _finished(run, replayer, scenario)
            )
            code = _summary(run, console, scenario, truth, incident_wall, dashboard, token, receiver)
            if not headless:
                console.print("[dim]the dashboard stays up; Ctrl-C stops everything the demo started[/]")
                while True:
                    time.sleep(1)
                    run.check_children()
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        run.stop.set()
        run.stop_children()
        engine.dispose()
        if started_services and not keep_stack:
            Stack(base, started_services).down()
            console.log(f"stopped {', '.join(started_services)} (started by the demo)")
    raise typer.Exit(code)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _count_delivery(run: DemoRun) -> None:
    with run.tally.lock:
        run.tally.deliveries += 1


def _replay(run: DemoRun, records: list[Any], speedup: float) -> None:
    from services.kafka_io.producer import EventProducer
    from services.replay import replay

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
                console.print(f"sent {t.sent}/{total}  scored {t.scored}  dead letters {t.dead_letters}  "
                              f"alerts {len(t.alerts)}  webhooks {t.deliveries}")  # fmt: skip
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
    on_target = [a for a in t.alerts if a["entity"] == truth["entity"]
                 and start < datetime.fromisoformat(a["window_end"]) <= end]  # fmt: skip
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
