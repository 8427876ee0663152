"""A chaos run under load: real texts at a steady rate while workers, Redis, PostgreSQL, the Kafka broker and Triton
are killed -9 and restarted at random times, and a worker is frozen (SIGSTOP) for a while; then every invariant is
checked against an offline recount of what Kafka acknowledged.

    uv run python -m bench.chaos [--minutes 10] [--rate 300] [--repeats 2] [--freeze-s 60] [--seed 7] [--json PATH]

Needs the local stack (`radar stack up`): its Kafka, Redis, PostgreSQL and Triton are the ones killed and restarted
(each comes back on its own data: Kafka's log, Redis's AOF, PostgreSQL's WAL). The run gets its own topics,
consumer group, Redis prefix and PostgreSQL database, two workers, a dispatcher and a webhook receiver.

What is checked, after the feed stops and every minute has closed:
- ``lost`` / ``double_counted``: per entity and minute, the counts in Redis against the events Kafka acknowledged;
- ``incomplete_minutes``: minutes whose SQL rollup is not the final count (closed before all their events were in);
- ``duplicate_alerts`` / ``missing_alerts``: each alert (opened, resolved) once on ``radar.alerts`` per SQL row;
- ``duplicate_webhooks`` / ``missing_webhooks``: each alert event delivered once (one webhook-id, one success);
- dead letters: every malformed record dead-lettered, each with a reason.
Each fault's recovery: ``resumed_after_s`` (from its restart until scored output grows again) and
``caught_up_after_s`` (until the consumer lag is back to what it was before the fault; null when the feed outran
the pipeline and the lag never came back).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import redis.asyncio as aioredis
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from sqlalchemy import func, select

from bench.common import console, mixed_texts, print_table, write_json
from core.domain import UNFINISHED_DELIVERIES
from core.settings import Settings, TopicNames
from core.signals import stopping_on_signals
from core.webhook_signing import new_secret
from localdev.databases import fresh_postgres
from localdev.pipeline_run import PipelineRun
from localdev.receiver import Receiver, running_receiver
from localdev.stack.base import LocalService
from localdev.stack.kafka import KafkaService
from localdev.stack.postgres import PostgresService
from localdev.stack.redis_server import RedisService
from localdev.stack.triton import TritonService
from localdev.topic_read import read_to_end
from storage.aggregates import AggregateStore
from storage.models import Alert, EntityMinuteStat, WebhookDelivery
from stream.deadletter import DeadLetter
from stream.detect import warmed
from stream.producer import EventProducer
from stream.topics import ensure_topics

__all__ = ["ChaosOptions", "Fault", "plan_faults", "recount", "recovery", "run"]

KILLED = ("worker", "redis", "postgres", "kafka", "triton")
SOURCE = "chaos"
# the feed's entities (watchlist ids: no quota) and their shares; INIT is small, and has the incident
SHARES = {"ACME": 0.4, "GLBX": 0.3, "UMBR": 0.28, "INIT": 0.02}
INCIDENT = "INIT"
JUNK_EVERY = 200  # one malformed record per this many


@dataclass(frozen=True)
class Fault:
    kind: str  # one of KILLED, or "freeze" (SIGSTOP of a worker)
    at_s: float  # seconds into the feed
    hold_s: float  # how long it stays down or frozen


def plan_faults(
    duration_s: float,
    rng: random.Random,
    *,
    kinds: Sequence[str] = KILLED,
    repeats: int = 2,
    down_s: float = 5.0,
    freeze_s: float = 60.0,
) -> list[Fault]:
    """Each kind ``repeats`` times and one freeze, in random order, one per equal slot between 10% and 75% of the
    feed at a random time in its slot (so each recovery shows before the feed stops).

    >>> faults = plan_faults(600, random.Random(1))
    >>> len(faults), Counter(f.kind for f in faults)["kafka"], all(60 <= f.at_s <= 450 for f in faults)
    (11, 2, True)
    >>> [f.at_s for f in faults] == sorted(f.at_s for f in faults)
    True
    """
    chosen = [kind for kind in kinds for _ in range(repeats)] + (["freeze"] if freeze_s > 0 else [])
    rng.shuffle(chosen)
    first, last = 0.10 * duration_s, 0.75 * duration_s
    slot = (last - first) / max(len(chosen), 1)
    return [
        Fault(kind, round(first + i * slot + rng.uniform(0, slot), 1), freeze_s if kind == "freeze" else down_s)
        for i, kind in enumerate(chosen)
    ]


@dataclass(frozen=True)
class Recount:
    lost: int
    double_counted: int
    where: list[tuple[str, int, int, int]]  # (entity, minute, expected, counted) where they differ


def recount(expected: dict[tuple[str, int], int], counted: dict[tuple[str, int], int]) -> Recount:
    """Counted against expected, per (entity, minute).

    >>> r = recount({("A", 1): 3, ("A", 2): 2}, {("A", 1): 3, ("A", 2): 1, ("B", 2): 1})
    >>> r.lost, r.double_counted, r.where
    (1, 1, [('A', 2, 2, 1), ('B', 2, 0, 1)])
    """
    lost = double = 0
    where = []
    for key in sorted(expected.keys() | counted.keys()):
        want, got = expected.get(key, 0), counted.get(key, 0)
        lost += max(0, want - got)
        double += max(0, got - want)
        if want != got:
            where.append((key[0], key[1], want, got))
    return Recount(lost, double, where)


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic
    lag: int  # raw records not yet committed by the workers' group
    scored: int  # records on the scored topic


def recovery(
    samples: Sequence[Sample], *, started: float, restarted: float, margin: int
) -> tuple[float | None, float | None]:
    """(resumed_after_s, caught_up_after_s) of a fault that began at ``started`` and was undone at ``restarted``:
    when scored output grew again after the restart, and when the lag came back within ``margin`` of its level in
    the 15 s before the fault (None: not within the samples).

    >>> s = [Sample(t, lag, sc) for t, lag, sc in [(0, 10, 0), (5, 10, 50), (10, 300, 60), (20, 400, 60),
    ...                                            (21, 200, 90), (30, 12, 400)]]
    >>> recovery(s, started=8.0, restarted=15.0, margin=5)
    (6.0, 15.0)
    """
    before = [s.lag for s in samples if started - 15 <= s.at <= started]
    level = (max(before) if before else 0) + margin
    after = [s for s in samples if s.at >= restarted]
    resumed = caught_up = None
    for previous, sample in itertools.pairwise(after):
        if resumed is None and sample.scored > previous.scored:
            resumed = round(sample.at - restarted, 1)
        if caught_up is None and resumed is not None and sample.lag <= level:
            caught_up = round(sample.at - restarted, 1)
            break
    return resumed, caught_up


@dataclass
class ChaosOptions:
    minutes: float = 10.0
    rate: float = 300.0
    repeats: int = 2
    kinds: tuple[str, ...] = KILLED
    down_s: float = 5.0
    freeze_s: float = 60.0
    seed: int = 7
    zh_share: float = 0.25
    partitions: int = 6
    drain_timeout_s: float = 1800.0
    # the wait for a quiet stream before the last minute closes: longer than a producer's reconnect after a broker
    # restart (its backoff tops at 5 s), or its held records would come late to minutes that only looked quiet
    idle_grace_s: float = 30.0
    logs: Path = Path("var/log/chaos")


@dataclass
class _Feed:
    """The producer side: events at ``rate`` for ``seconds``; what Kafka acknowledged is the recount's truth."""

    settings: Settings
    texts: list[str]
    rate: float
    seconds: float
    rng: random.Random
    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (entity, minute)
    junk_acked: int = 0
    resent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    incident: tuple[float, float] = (0.0, 0.0)  # seconds into the feed: INIT at ten times its rate

    def run(self) -> None:
        retry: list[tuple[dict[str, Any] | bytes, str]] = []
        with EventProducer(self.settings, delivery_timeout_ms=300_000, max_block_ms=120_000) as producer:
            started, i = time.monotonic(), 0
            while (elapsed := time.monotonic() - started) < self.seconds:
                due = int(elapsed * self.rate) - i
                for _ in range(max(due, 0)):
                    self._send(producer, i, elapsed, retry)
                    i += 1
                if retry:
                    again, retry[:] = list(retry), []
                    for payload, key in again:
                        self.resent += 1
                        self._send_payload(producer, payload, key, retry)
                time.sleep(0.02)
            producer.flush()
            while retry:  # what Kafka refused while it was away goes again, until it is taken
                again, retry[:] = list(retry), []
                for payload, key in again:
                    self.resent += 1
                    self._send_payload(producer, payload, key, retry)
                producer.flush()

    def _send(self, producer: EventProducer, i: int, elapsed: float, retry: list[Any]) -> None:
        if i % JUNK_EVERY == JUNK_EVERY - 1:
            self._send_payload(producer, b'{"id": "junk' + str(i).encode() + b'", "text": ', f"junk-{i}", retry)
            return
        entity = self.rng.choices(list(SHARES), weights=list(SHARES.values()))[0]
        now = datetime.now(UTC)
        event = {
            "id": f"c{i}-{uuid.uuid4().hex[:6]}",
            "source": SOURCE,
            "kind": "news" if i % 3 == 0 else "social",
            "text": self.texts[i % len(self.texts)],
            "published_at": now.isoformat(),
            "entities": [entity],
        }
        self._send_payload(producer, event, str(event["id"]), retry)
        if self.incident[0] <= elapsed < self.incident[1] and self.rng.random() < 9 * SHARES[INCIDENT]:
            extra = {**event, "id": f"{event['id']}-x", "entities": [INCIDENT]}  # INIT at ten times its usual
            self._send_payload(producer, extra, str(extra["id"]), retry)

    def _send_payload(
        self, producer: EventProducer, payload: dict[str, Any] | bytes, key: str, retry: list[Any]
    ) -> None:
        if isinstance(payload, bytes):
            future = producer.send_raw(self.settings.topics.raw_social, payload, key=key)
        else:
            future = producer.send_event(payload)

        def ok(_: object) -> None:
            with self.lock:
                if isinstance(payload, bytes):
                    self.junk_acked += 1
                else:
                    minute = int(datetime.fromisoformat(str(payload["published_at"])).timestamp() // 60)
                    self.acked[str(payload["id"])] = (str(payload["entities"][0]), minute)

        def failed(_: BaseException) -> None:
            with self.lock:
                retry.append((payload, key))

        future.add_callback(ok)
        future.add_errback(failed)


SAMPLE_TIMEOUT_MS = 3000  # a sample Kafka cannot answer within this is skipped; the monitor looks once a second


class _Monitor:
    """Samples the workers' consumer lag and the scored topic's size once a second (Kafka may be down: a failed
    sample is skipped)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.samples: list[Sample] = []
        self.failures = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        admin = consumer = None
        while not self.stop.is_set():
            try:
                if admin is None or consumer is None:
                    # a short wait and a short reconnect backoff: kafka-python backs off up to 30 s while a broker is
                    # away, so after a restart the monitor looked again only half a minute later, past a short run
                    config = {**self.settings.kafka_python_config(), "reconnect_backoff_max_ms": 1000}
                    admin = KafkaAdminClient(**config, request_timeout_ms=SAMPLE_TIMEOUT_MS)
                    consumer = KafkaConsumer(**config)
                raw = [
                    TopicPartition(topic, p)
                    for topic in self.settings.topics.raw()
                    for p in (consumer.partitions_for_topic(topic) or ())
                ]
                scored = [
                    TopicPartition(self.settings.topics.scored, p)
                    for p in consumer.partitions_for_topic(self.settings.topics.scored) or ()
                ]
                ends = consumer.end_offsets(raw + scored, timeout_ms=SAMPLE_TIMEOUT_MS)
                group = self.settings.consumer_group
                committed = admin.list_group_offsets(group).get(group, {})
                lag = sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in raw)
                self.samples.append(Sample(time.monotonic(), lag, sum(ends[tp] for tp in scored)))
            except Exception as exc:  # noqa: BLE001 - Kafka is one of the things killed: try again next second
                self.failures += 1
                if self.failures == 1 or os.environ.get("CHAOS_DEBUG"):
                    console.log(f"lag sample failed (Kafka away?): {type(exc).__name__}: {exc}")
                # clients that exist are kept: they reconnect by themselves once the broker is back, where a new
                # client's bootstrap right after a broker restart failed for half a minute at a time
            self.stop.wait(1.0)
        for client in (admin, consumer):
            if client is not None:
                with contextlib.suppress(Exception):  # closing a client of a dead broker
                    client.close()
        for client in (admin, consumer):
            if client is not None:
                client.close()


class _Supervisor:
    """Starts again a worker that exited on its own (what systemd or Kubernetes would do), and notes why; a worker
    a fault is holding down is left to the fault."""

    def __init__(self, run: PipelineRun) -> None:
        self.run = run
        self.held: set[str] = set()
        self.exits: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self.stop.wait(2.0):
            with self.lock:
                for name in self.run.revive(frozenset(self.held)):
                    log = (self.run.logs / f"{name}.log").read_text(errors="replace").splitlines()
                    why = next((line for line in reversed(log) if "Error" in line), log[-1] if log else "")
                    self.exits.append({"worker": name, "at": time.monotonic(), "why": why[-300:]})


def _kill_service(service: LocalService) -> None:
    pid = service.process.pid()
    if pid is None:
        raise RuntimeError(f"{service.name} is not the stack's own process: run `radar stack up` first")
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while service.process.pid() is not None and time.monotonic() < deadline:
        time.sleep(0.1)


def _inject(fault: Fault, supervisor: _Supervisor, services: dict[str, LocalService], rng: random.Random) -> float:
    """Apply ``fault``; returns when it was undone (monotonic)."""
    run = supervisor.run
    if fault.kind in ("worker", "freeze"):
        with supervisor.lock:
            name = rng.choice(sorted(run.workers))
            supervisor.held.add(name)
        try:
            if fault.kind == "worker":
                run.kill_worker(name)
                time.sleep(fault.hold_s)
                run.start_worker(name)
            else:
                run.pause_worker(name, True)
                time.sleep(fault.hold_s)
                run.pause_worker(name, False)
        finally:
            with supervisor.lock:
                supervisor.held.discard(name)
        return time.monotonic()
    service = services[fault.kind]
    _kill_service(service)
    time.sleep(fault.hold_s)
    restarted = time.monotonic()
    service.up()
    return restarted


def _scoped(base: Settings, tag: str, partitions: int, idle_grace_s: float) -> Settings:
    topics = TopicNames(**{name: f"{tag}.{name}" for name in TopicNames.model_fields})
    scoped = base.model_copy(
        update={
            "topics": topics,
            "consumer_group": tag,
            "redis_prefix": f"radar:{tag}:",
            "idle_grace_s": idle_grace_s,
            "settle_s": 3.0,
            "inference_timeout_s": 3.0,
        }
    )
    ensure_topics(scoped, partitions=partitions)
    return scoped


async def _seed(settings: Settings, rate: float, first_minute: int) -> None:
    """Ten days of usual volume per entity in the detectors, as a worker that had watched them would hold."""
    rng = np.random.default_rng(0)
    minutes = 10 * 1440
    states = {
        entity: warmed(rng.poisson(rate * 60 * share, minutes).tolist(), first_minute - minutes).to_state()
        for entity, share in SHARES.items()
    }
    store = AggregateStore(aioredis.from_url(settings.redis_url), prefix=settings.redis_prefix)
    try:
        await store.save_detectors(states)
    finally:
        await store.client.aclose()


async def _counted(settings: Settings, first: int, last: int) -> dict[tuple[str, int], int]:
    store = AggregateStore(aioredis.from_url(settings.redis_url), prefix=settings.redis_prefix)
    try:
        out = {}
        for entity in SHARES:
            for i, stats in enumerate(await store.series(entity, first, last)):
                if stats.n:
                    out[(entity, first + i)] = stats.n
        return out
    finally:
        await store.client.aclose()


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # noqa: BLE001 - a store still coming back: ask again
            pass
        time.sleep(1.0)
    raise RuntimeError(f"timed out waiting for {what}")


def _closed_through(settings: Settings) -> int | None:
    import redis

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    try:
        value = client.get(f"{settings.redis_prefix}closed_through")
        return int(value) if value is not None else None
    finally:
        client.close()


async def run(base: Settings, options: ChaosOptions, say: Callable[[str], None] = console.log) -> dict[str, Any]:
    """One chaos run; returns its figures (see the module docstring)."""
    rng = random.Random(options.seed)
    tag = f"chaos{uuid.uuid4().hex[:6]}"
    settings = _scoped(base, tag, options.partitions, options.idle_grace_s)
    seconds = options.minutes * 60
    faults = plan_faults(
        seconds, rng, kinds=options.kinds, repeats=options.repeats, down_s=options.down_s, freeze_s=options.freeze_s
    )
    services: dict[str, LocalService] = {
        "redis": RedisService(base),
        "postgres": PostgresService(base),
        "kafka": KafkaService(base),
        "triton": TritonService(base),
    }
    for kind in {f.kind for f in faults} & set(services):
        if services[kind].process.pid() is None:
            raise RuntimeError(f"{kind} is not run by the local stack here: `radar stack up` first")
    texts = mixed_texts(base, 512, options.zh_share)
    logs = options.logs / tag
    logs.mkdir(parents=True, exist_ok=True)
    receiver = Receiver(secret=new_secret())
    with fresh_postgres(base.postgres_url, tag) as url, running_receiver(receiver) as hook:
        settings = settings.model_copy(update={"database_url": url})
        pipeline = PipelineRun(settings, receiver, hook, logs)
        monitor, supervisor = _Monitor(settings), _Supervisor(pipeline)
        try:
            await _seed(settings, options.rate, int(time.time() // 60))
            pipeline.start_worker("worker-1")
            pipeline.start_worker("worker-2")
            pipeline.start_dispatcher()
            supervisor.thread.start()
            pipeline.wait_joined(2)  # both workers in the group before the feed starts
            feed = _Feed(settings, texts, options.rate, seconds, random.Random(options.seed + 1))
            feed.incident = (0.45 * seconds, 0.45 * seconds + max(150.0, 0.15 * seconds))
            monitor.thread.start()
            feeding = threading.Thread(target=feed.run, daemon=True)
            started = time.monotonic()
            say(f"feeding {options.rate:.0f} events/s for {seconds:.0f} s, {len(faults)} faults")
            feeding.start()
            records: list[dict[str, Any]] = []
            for fault in faults:
                wait = started + fault.at_s - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                begun = time.monotonic()
                say(f"{begun - started:6.1f} s: {fault.kind} ({fault.hold_s:.0f} s)")
                undone = _inject(fault, supervisor, services, rng)
                records.append(
                    {
                        "kind": fault.kind,
                        "at_s": round(begun - started, 1),
                        "begun": begun,
                        "undone": undone,
                        "during_feed": undone - started < seconds,  # else no output is left to resume
                    }
                )
            feeding.join()
            fed_s = time.monotonic() - started
            say(f"feed done: {len(feed.acked):,} events acknowledged in {fed_s:.0f} s; draining…")
            last_minute = max(minute for _, minute in feed.acked.values())
            first_minute = min(minute for _, minute in feed.acked.values())
            drain_started = time.monotonic()
            _wait(
                lambda: (_closed_through(settings) or 0) >= last_minute,
                options.drain_timeout_s,
                f"every minute to close (through {last_minute})",
            )
            drain_s = time.monotonic() - drain_started

            def outbox_idle() -> bool:
                with pipeline.sessions() as session:
                    waiting = session.scalar(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(WebhookDelivery.status.in_(UNFINISHED_DELIVERIES))
                    )
                return not waiting

            _wait(outbox_idle, 300, "the webhook outbox to empty")
            time.sleep(3)
            monitor.stop.set()
            supervisor.stop.set()
            supervisor.thread.join()
            pipeline.alive()
            figures = await _check(settings, pipeline, receiver, feed, first_minute, last_minute)
        finally:
            monitor.stop.set()
            supervisor.stop.set()
            pipeline.stop()
    margin = int(options.rate * 3)
    for record in records:
        resumed, caught_up = recovery(
            monitor.samples, started=record["begun"], restarted=record["undone"], margin=margin
        )
        record.update(
            down_s=round(record.pop("undone") - record.pop("begun"), 1),
            resumed_after_s=resumed,
            caught_up_after_s=caught_up,
        )
    return {
        "rate_target": options.rate,
        "rate_produced": round(len(feed.acked) / fed_s, 1),
        "feed_s": round(fed_s, 1),
        "drain_s": round(drain_s, 1),
        "resent_after_refusal": feed.resent,
        "worker_exits": [{**e, "at_s": round(e.pop("at") - started, 1)} for e in supervisor.exits],
        **figures,
        "faults": records,
    }


async def _check(
    settings: Settings, pipeline: PipelineRun, receiver: Receiver, feed: _Feed, first: int, last: int
) -> dict[str, Any]:
    expected: dict[tuple[str, int], int] = Counter(feed.acked.values())
    counted = await _counted(settings, first, last)
    counts = recount(expected, counted)
    with pipeline.sessions() as session:
        rollups = {
            (r.entity, int(r.minute.replace(tzinfo=UTC).timestamp() // 60)): r.n
            for r in session.scalars(select(EntityMinuteStat).where(EntityMinuteStat.entity.in_(list(SHARES))))
        }
        alerts = list(session.scalars(select(Alert)))
    incomplete = sorted(key for key in counted.keys() | rollups.keys() if counted.get(key) != rollups.get(key))
    published: Counter[tuple[str, str]] = Counter()
    for value in read_to_end(settings, settings.topics.alerts):
        body = json.loads(value)
        published[(body["key"], body["status"])] += 1
    events_in_sql = {(a.alert_key, "open") for a in alerts} | {
        (a.alert_key, "resolved") for a in alerts if a.status == "resolved"
    }
    on_kafka = {(key, "open" if status == "open" else "resolved") for key, status in published}
    webhooks: dict[tuple[str, str], int] = Counter()
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    for headers, body, answer in receiver.received:
        payload = json.loads(body)
        event = (payload["data"]["key"], payload["type"])
        ids[event].add(headers["webhook-id"])
        if answer == "ok":
            webhooks[event] += 1
    expected_hooks = {(a.alert_key, "alert.opened") for a in alerts} | {
        (a.alert_key, "alert.resolved") for a in alerts if a.status == "resolved"
    }
    letters = [DeadLetter.model_validate_json(v) for v in read_to_end(settings, settings.topics.deadletter)]
    junk = {(x.source_topic, x.partition, x.offset) for x in letters if (x.key or "").startswith("junk-")}
    return {
        "events_produced": len(feed.acked),
        "lost": counts.lost,
        "double_counted": counts.double_counted,
        "miscounted_minutes": counts.where[:20],
        "incomplete_minutes": len(incomplete),
        "alerts": len(alerts),
        "alerts_by_entity": dict(Counter(a.entity for a in alerts)),
        "duplicate_alerts": sum(n - 1 for n in published.values() if n > 1),
        "missing_alerts": len(events_in_sql - on_kafka),
        "duplicate_webhooks": sum(n - 1 for n in webhooks.values() if n > 1)
        + sum(len(v) - 1 for v in ids.values() if len(v) > 1),
        "missing_webhooks": len(expected_hooks - set(webhooks)),
        "malformed_sent": feed.junk_acked,
        "malformed_dead_lettered": len(junk),
        "dead_letters": len(letters),
        "dead_letters_without_reason": sum(1 for x in letters if not x.reason),
        "late_dead_letters": sum(1 for x in letters if x.reason.startswith("late")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=300.0, help="events per second fed")
    parser.add_argument("--repeats", type=int, default=2, help="kills of each service")
    parser.add_argument("--freeze-s", type=float, default=60.0, help="how long a worker is frozen (0: never)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import asyncio

    options = ChaosOptions(
        minutes=args.minutes, rate=args.rate, repeats=args.repeats, freeze_s=args.freeze_s, seed=args.seed
    )
    with stopping_on_signals():  # SIGTERM (timeout, CI) stops the workers it started, as Ctrl-C does
        figures = asyncio.run(run(Settings(), options))
    keys = [
        "events_produced", "rate_target", "rate_produced", "lost", "double_counted", "incomplete_minutes", "alerts",
        "duplicate_alerts", "missing_alerts", "duplicate_webhooks", "missing_webhooks", "malformed_sent",
        "malformed_dead_lettered", "dead_letters_without_reason", "late_dead_letters", "drain_s",
    ]  # fmt: skip
    print_table(
        "chaos run: invariants against the offline recount", ["measure", "value"], [[k, figures[k]] for k in keys]
    )
    print_table(
        "faults (seconds; resumed / caught up: from the restart)",
        ["fault", "at", "down", "resumed after", "caught up after"],
        [[f["kind"], f["at_s"], f["down_s"], f["resumed_after_s"], f["caught_up_after_s"]] for f in figures["faults"]],
    )
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
