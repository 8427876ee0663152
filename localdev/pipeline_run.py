"""The whole pipeline, really running, for fault tests and the chaos benchmark: ``radar worker`` and
``radar dispatcher`` processes on one set of topics, one Redis prefix and one database, a webhook subscription to a
receiver, and the waits and readings their checks need. Each process runs in its own session (process group), so
a kill or a SIGSTOP reaches all of it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from kafka import KafkaConsumer
from kafka.errors import KafkaError
from sqlalchemy import func, select

from core.alerts import AlertEvent
from core.domain import DeliveryStatus
from core.settings import Settings
from core.webhook_signing import new_secret
from localdev.receiver import Receiver
from localdev.replay import replay
from localdev.workers import spawn_radar
from storage.aggregates import AggregateStore
from storage.db import make_engine, make_sessionmaker
from storage.models import WebhookDelivery
from storage.subscriptions import add_subscription
from stream.deadletter import DeadLetter
from stream.producer import EventProducer
from stream.topics import admin_client

__all__ = ["PipelineRun"]


class PipelineRun:
    """Workers, a dispatcher and a webhook subscription on one set of topics, prefix and database: started,
    killed, frozen and restarted at will (fault tests, bench.chaos), with the waits their checks need."""

    def __init__(self, settings: Settings, receiver: Receiver, hook_url: str, logs: Path) -> None:
        self.settings, self.receiver, self.logs = settings, receiver, logs
        self.engine = make_engine(settings.database_url)
        self.sessions = make_sessionmaker(self.engine)
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.dispatcher: subprocess.Popen[bytes] | None = None
        self.secret = receiver.secret or new_secret()
        with self.sessions.begin() as session:
            add_subscription(session, name="reliability", url=hook_url, secret=self.secret, allow_private=True)

    # --- processes ---
    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            **self.settings.to_env(),
            "RADAR_WORKER_METRICS_PORT": "0",
            "RADAR_DISPATCHER_METRICS_PORT": "0",
        }
        return spawn_radar(list(args), env=env, log=self.logs / f"{name}.log")

    def start_worker(self, name: str) -> None:
        self.workers[name] = self._spawn(name, "worker", "--loglevel", "warn")

    def kill_worker(self, name: str) -> None:
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait(timeout=10)

    def revive(self, skip: frozenset[str] = frozenset()) -> list[str]:
        """Start again every worker that exited, but those in ``skip`` (what systemd's Restart=on-failure or
        Kubernetes would do); returns their names."""
        exited = [name for name, proc in self.workers.items() if name not in skip and proc.poll() is not None]
        for name in exited:
            self.start_worker(name)
        return exited

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
    def wait_joined(self, members: int, timeout_s: float = 90) -> None:
        """Until the workers' consumer group is stable with ``members`` members: every worker holds partitions
        (a fixed sleep was 8-10 s of every run that needed them all in)."""
        admin = admin_client(self.settings, request_timeout_ms=3000)
        group, state, seen = self.settings.consumer_group, "", 0
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                self.alive()
                try:
                    described = admin.describe_groups([group]).get(group, {})
                except KafkaError as exc:  # no coordinator yet: a new broker creates __consumer_offsets first
                    state = type(exc).__name__
                else:
                    state, seen = described.get("group_state", ""), len(described.get("members", ()))
                    if state == "Stable" and seen == members:
                        return
                time.sleep(0.5)
        finally:
            admin.close()
        raise AssertionError(f"group {group} is {state or 'unknown'} with {seen} of {members} members")

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
        """Until ``alerts`` alerts have their opening delivered (a resolution delivered meanwhile counts for none:
        an alert that resolves within the replay may be delivered twice before another's first retry is due)."""
        deadline, done = time.monotonic() + timeout_s, 0
        while time.monotonic() < deadline:
            self.alive()
            with self.sessions() as session:
                done = int(
                    session.scalar(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(
                            WebhookDelivery.status == DeliveryStatus.DELIVERED,
                            WebhookDelivery.event == AlertEvent.OPENED.value,
                        )
                    )
                    or 0
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
