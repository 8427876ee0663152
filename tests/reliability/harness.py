"""The whole pipeline, really running, for fault tests: workers, dispatcher, webhook receiver, fresh topics, a
fresh Redis prefix and a fresh PostgreSQL database; and the checks every fault test ends with."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from kafka import KafkaConsumer
from sqlalchemy import func, select

from core.settings import Settings
from core.webhook_signing import new_secret, verify
from inference.dataset import fetch_vader_sdist, parse_sdist
from localdev.receiver import Receiver
from localdev.replay import replay
from localdev.scenarios import SCENARIOS, Scenario, generate
from storage.aggregates import AggregateStore
from storage.db import make_engine, make_sessionmaker
from storage.models import Alert, EntityMinuteStat, WebhookDelivery, WebhookSubscription
from stream.deadletter import DeadLetter
from stream.entities import load_watchlist
from stream.producer import EventProducer
from tests.support.history import seed_history

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
_SCENARIO: dict[str, Scenario] = {}


async def smoke_scenario(settings: Settings) -> Scenario:
    """60 simulated minutes, 3 entities, a volume storm on ACME from minute 35 (seeded, cached); the entities'
    detectors in this test's Redis namespace have ten days of history, as a long-running worker's would."""
    if "smoke" not in _SCENARIO:
        texts = parse_sdist(fetch_vader_sdist(settings.cache_dir))
        _SCENARIO["smoke"] = generate(
            SCENARIOS["smoke"], texts, load_watchlist(settings.watchlist), seed=21, start=START
        )
    await seed_history(settings, _SCENARIO["smoke"])
    return _SCENARIO["smoke"]


class Pipeline:
    def __init__(self, settings: Settings, receiver: Receiver, hook_url: str, logs: Path) -> None:
        self.settings, self.receiver, self.logs = settings, receiver, logs
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.dispatcher: subprocess.Popen[bytes] | None = None
        self.secret = receiver.secret or new_secret()
        with self.sessions.begin() as session:
            session.add(
                WebhookSubscription(
                    name="reliability",
                    url=hook_url,
                    secret=self.secret,
                    enabled=True,
                    allow_private=True,
                    created_at=datetime.now(UTC),
                )
            )

    # --- processes ---
    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            **self.settings.to_env(),
            "RADAR_WORKER_METRICS_PORT": "0",
            "RADAR_DISPATCHER_METRICS_PORT": "0",
        }
        with (self.logs / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "services.cli", *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_worker(self, name: str) -> None:
        self.workers[name] = self._spawn(name, "worker", "--loglevel", "warn")

    def kill_worker(self, name: str) -> None:
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait(timeout=10)

    def pause_worker(self, name: str, paused: bool) -> None:
        """SIGSTOP / SIGCONT: a worker frozen (a long GC pause, a starved VM) without leaving its group."""
        os.killpg(self.workers[name].pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def start_dispatcher(self) -> None:
        self.dispatcher = self._spawn("dispatcher", "dispatcher", "--timeout-s", "1")

    def alive(self) -> None:
        for name, proc in [*self.workers.items(), ("dispatcher", self.dispatcher)]:
            if proc is not None:
                assert proc.poll() is None, f"{name} died: {(self.logs / f'{name}.log').read_text()[-3000:]}"

    def stop(self) -> None:
        for proc in [*self.workers.values(), self.dispatcher]:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [*self.workers.values(), self.dispatcher]:
            if proc is not None:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        self.engine.dispose()

    # --- traffic ---
    def replay_in_background(self, records: list[Any], speedup: float) -> threading.Thread:
        def run() -> None:
            with EventProducer(self.settings) as producer:
                replay(records, producer, speedup=speedup)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def send_raw(self, values: list[bytes]) -> None:
        with EventProducer(self.settings) as producer:
            for value in values:
                producer.send_raw(self.settings.topics.raw_social, value, key=b"junk")
            producer.flush()

    # --- waiting and checking ---
    async def wait_closed(self, last_minute: int, timeout_s: float = 240) -> None:
        store = AggregateStore(aioredis.from_url(self.settings.redis_url), prefix=self.settings.redis_prefix)
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                self.alive()
                closed = await store.closed_through()
                if closed is not None and closed >= last_minute:
                    return
                await asyncio.sleep(0.5)
            raise AssertionError(f"not closed through {last_minute}: {await store.closed_through()}")
        finally:
            await store.client.aclose()

    def wait_delivered(self, alerts: int, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.alive()
            with self.sessions() as session:
                done = session.scalar(
                    select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "delivered")
                )
            if done >= alerts:
                return
            time.sleep(0.5)
        raise AssertionError(f"only {done} of {alerts} alerts delivered")

    def dead_letters(self, *, distinct: int, timeout_s: float = 120) -> list[DeadLetter]:
        """Dead letters until ``distinct`` different source records (topic, partition, offset) have been seen."""
        consumer = KafkaConsumer(
            self.settings.topics.deadletter,
            **self.settings.kafka_python_config(),
            group_id=f"dlq-{time.monotonic_ns()}",
            auto_offset_reset="earliest",
            consumer_timeout_ms=500,
        )
        letters: list[DeadLetter] = []
        seen: set[tuple[str | None, int | None, int | None]] = set()
        deadline = time.monotonic() + timeout_s
        while len(seen) < distinct and time.monotonic() < deadline:
            for message in consumer:
                letter = DeadLetter.model_validate_json(message.value)
                letters.append(letter)
                seen.add((letter.source_topic, letter.partition, letter.offset))
        consumer.close()
        return letters

    async def check(self, scenario: Scenario, *, malformed: int = 0) -> dict[str, Any]:
        """The invariants: exact counts, the incident alerted once, every alert delivered once, every bad record
        dead-lettered with a reason, every process alive. Returns the figures for the report."""
        first = int(START.timestamp() // 60)
        await self.wait_closed(first + 58)
        store = AggregateStore(aioredis.from_url(self.settings.redis_url), prefix=self.settings.redis_prefix)
        series = {e: await store.series(e, first, first + 59) for e in ("ACME", "GLBX", "INIT")}
        await store.client.aclose()
        counted = {e: sum(s.n for s in minutes) for e, minutes in series.items()}
        expected = dict(Counter(e["meta"]["entity"] for e in scenario.events))
        if counted != expected:  # name what became of the missing: a late dead letter says which minute closed early
            late = [x.reason for x in self.dead_letters(distinct=10**9, timeout_s=5) if x.reason.startswith("late")]
            raise AssertionError(f"counted {counted}, produced {expected}; late dead letters: {late}")
        with self.sessions() as session:
            alerts = list(session.scalars(select(Alert)))
            rollups = session.scalars(select(EntityMinuteStat).where(EntityMinuteStat.entity != "_all"))
            rolled = {(r.entity, int(r.minute.replace(tzinfo=UTC).timestamp() // 60) - first): r.n for r in rollups}
        final = {(e, i): s.n for e, minutes in series.items() for i, s in enumerate(minutes[:59]) if s.n}
        incomplete = sorted(k for k in final.keys() | rolled.keys() if k[1] < 59 and final.get(k) != rolled.get(k))
        assert not incomplete, f"minutes closed before all their events were counted: {incomplete}"
        assert alerts and {a.entity for a in alerts} == {"ACME"}, [(a.entity, a.detector) for a in alerts]
        assert Counter(a.detector for a in alerts)["volume_spike"] == 1
        self.wait_delivered(len(alerts))
        ok = self.receiver.delivered()
        ids_per_event: dict[tuple[str, str], set[str]] = {}  # (alert, opened | resolved): one id for all retries
        for headers, body, _ in self.receiver.received:
            payload = json.loads(body)
            ids_per_event.setdefault((payload["data"]["key"], payload["type"]), set()).add(headers["webhook-id"])
        assert {json.loads(b)["data"]["key"] for _, b in ok} == {a.alert_key for a in alerts}
        assert all(len(ids) == 1 for ids in ids_per_event.values()), ids_per_event
        assert all(verify(self.secret, h, b, check_time=False) for h, b in ok)
        duplicate_letters = 0
        if malformed:
            letters = self.dead_letters(distinct=malformed)
            where = Counter((x.source_topic, x.partition, x.offset) for x in letters)
            assert len(where) == malformed and all(x.reason for x in letters), (len(letters), len(where))
            duplicate_letters = len(letters) - len(where)  # at-least-once: a rebalance may repeat a batch
        self.alive()
        return {
            "events": len(scenario.events),
            "counted": sum(counted.values()),
            "minutes_closed": len(rolled),
            "minutes_incomplete": len(incomplete),
            "alerts": len(alerts),
            "webhook_requests": len(self.receiver.received),
            "delivered": len(ok),
            "dead_letters": malformed,
            "duplicate_dead_letters": duplicate_letters,
        }
