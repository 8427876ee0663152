"""``radar demo``: the whole product on this machine, end to end, with a real-text scenario and an incident.

Stack up -> a trained model on Triton (cached, or a short first training) -> workers, dispatcher, API and a
webhook receiver -> a time-compressed replay of the `demo` scenario (with some malformed records) -> alerts live
in the terminal as they fire -> a summary against the scenario's ground truth. Each run has its own topics,
consumer group and Redis prefix, so runs never disturb each other. Ctrl-C stops everything the demo started.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from core.settings import Settings, TopicNames
from localdev.workers import spawn_radar

__all__ = ["DemoRun"]

MALFORMED = [b"{not json", b'{"id": "x"}', b"\xff\xfe\x00", b'{"id": 5, "text": "", "published_at": "soon"}']


@dataclass
class Tally:
    """What the live view and the summary show, filled by background consumers."""

    sent: int = 0
    invalid_sent: int = 0
    scored: int = 0
    dead_letters: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    alert_seen_at: dict[str, float] = field(default_factory=dict)
    resolved_delivered_at: dict[int, float] = field(default_factory=dict)  # alert id -> when alert.resolved arrived
    deliveries: int = 0
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class DemoRun:
    def __init__(self, base: Settings, console: Console, *, speedup: float, workers: int, headless: bool) -> None:
        self.run_id = datetime.now(UTC).strftime("%H%M%S") + uuid.uuid4().hex[:4]
        topics = TopicNames(**{f: f"radar.demo{self.run_id}.{f}" for f in TopicNames.model_fields})
        self.settings = base.model_copy(
            update={
                "topics": topics,
                "consumer_group": f"radar-demo{self.run_id}",
                "redis_prefix": f"radar:demo{self.run_id}:",
                "settle_s": 3.0,
                "idle_grace_s": 5.0,
                "allowed_lateness_s": 20.0,
                "alert_resolve_after_s": 600.0,
            }
        )
        self.console, self.speedup, self.workers, self.headless = console, speedup, workers, headless
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.tally = Tally()
        self.stop = threading.Event()
        self.finished_at: float | None = None
        self.logs = base.var_dir.resolve() / "log" / "demo"
        self.logs.mkdir(parents=True, exist_ok=True)

    # --- processes ---
    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, **self.settings.to_env(), **(env or {})}
        self.children.append((name, spawn_radar(list(args), env=full_env, log=self.logs / f"{name}.log")))

    def check_children(self) -> None:
        for name, proc in self.children:
            if proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop_children(self) -> None:
        for _, proc in reversed(self.children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.children:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def wait_for_group(self, timeout_s: float = 120) -> None:
        admin = KafkaAdminClient(**self.settings.kafka_python_config())
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                self.check_children()
                try:
                    group = admin.describe_groups([self.settings.consumer_group])[self.settings.consumer_group]
                except KafkaError:  # a broker that just started has no group coordinator yet
                    group = {"group_state": "starting", "members": []}
                if group["group_state"] == "Stable" and len(group["members"]) >= self.workers:
                    return
                time.sleep(0.5)
        finally:
            admin.close()
        raise RuntimeError(f"workers did not join the consumer group in {timeout_s:.0f} s (logs in {self.logs})")

    def wait_for_api(self, url: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.check_children()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("the API did not answer /healthz")

    # --- observing ---
    def consume(self, topic: str, on_value) -> threading.Thread:
        def loop() -> None:
            group = f"demo-view-{uuid.uuid4().hex[:6]}"
            consumer = KafkaConsumer(
                topic,
                **self.settings.kafka_python_config(),
                group_id=group,
                auto_offset_reset="earliest",
                consumer_timeout_ms=300,
            )
            while not self.stop.is_set():
                for message in consumer:
                    on_value(message.value)
                    if self.stop.is_set():
                        break
            consumer.close()

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        return thread

    def on_alert(self, raw: bytes) -> None:
        """radar.alerts carries openings and, with ``status`` resolved, resolutions of the same alert (same key)."""
        alert = json.loads(raw)
        with self.tally.lock:
            if alert.get("status") == "resolved":
                known = [i for i, a in enumerate(self.tally.alerts) if a["key"] == alert["key"]]
                for i in known:
                    self.tally.alerts[i] = alert
                if known and self.headless:
                    self.console.print(f"[green]RESOLVED[/] {alert['detector']:16} {alert['key']}")
            elif alert["key"] not in self.tally.alert_seen_at:
                self.tally.alert_seen_at[alert["key"]] = time.monotonic()
                self.tally.alerts.append(alert)
                if self.headless:
                    self.console.print(f"[red]ALERT[/] {alert['severity']:8} {alert['detector']:16} {alert['message']}")

    def on_scored(self, _: bytes) -> None:
        with self.tally.lock:
            self.tally.scored += 1

    def on_dead(self, _: bytes) -> None:
        with self.tally.lock:
            self.tally.dead_letters += 1

    def view(self, phase: str, total: int) -> Group:
        t = self.tally
        counters = Table.grid(padding=(0, 3))
        counters.add_row(
            f"[bold]{phase}[/]",
            f"sent {t.sent}/{total}",
            f"scored {t.scored}",
            f"dead letters {t.dead_letters}",
            f"alerts {len(t.alerts)}",
            f"webhooks {t.deliveries}",
        )
        table = Table(title="alerts as they fire", expand=True)
        for column in ("event time", "entity", "detector", "severity", "what happened"):
            table.add_column(column, overflow="fold")
        colours = {"critical": "bold red", "high": "red", "warning": "yellow"}
        for alert in t.alerts[-12:]:
            colour = colours.get(alert["severity"], "white")
            table.add_row(
                alert["window_end"][11:16],
                alert["entity"],
                alert["detector"],
                f"[{colour}]{alert['severity']}[/]",
                alert["message"],
            )
        return Group(Panel(counters, title=f"Opinion Radar demo {self.run_id}"), table)


def add_malformed(events: list[dict[str, Any]], rng: random.Random, n: int) -> list[bytes | dict[str, Any]]:
    """The scenario with ``n`` broken records mixed in, as producers in the wild send them."""
    out: list[bytes | dict[str, Any]] = list(events)
    for _ in range(n):
        out.insert(rng.randrange(len(out) + 1), rng.choice(MALFORMED))
    return out
