"""Webhook dispatcher throughput and the fault test's counts, in one run, on the local PostgreSQL.

    uv run python -m bench.dispatcher [--alerts 2000] [--json PATH]

1. deliveries/s: N alerts, one subscription, a real loopback receiver that always answers 200;
2. faults: a receiver that answers 500, 503, 429 and times out on a share of requests, then recovers; counts of
   requests, deliveries, retries, duplicates seen by the receiver (same webhook-id twice) and signature failures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.common import console, print_table, write_json
from core.alerts import Alert
from core.domain import DeliveryStatus
from core.samples import sample_alert
from core.settings import Settings
from core.webhook_signing import new_secret, verify
from localdev.databases import fresh_postgres
from localdev.receiver import Receiver, running_receiver
from services.webhooks.dispatcher import Dispatcher
from storage.alerts_repo import delivery_counts, record_minute
from storage.db import make_engine, make_sessionmaker
from storage.subscriptions import add_subscription


def alert(i: int) -> Alert:
    start = datetime.fromtimestamp(29_000_000 * 60 + i * 60, tz=UTC)
    return sample_alert(f"E{i % 50}", start=start, message="bench alert")


async def drain(dispatcher: Dispatcher, sessions, target: int, timeout_s: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        await dispatcher.run_once()
        with sessions() as session:
            counts = delivery_counts(session)
        if counts.get(DeliveryStatus.DELIVERED, 0) + counts.get(DeliveryStatus.DEAD, 0) >= target:
            break
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


def scenario(postgres_url: str, n: int, plan, *, backoff_s: float, timeout_s: float):
    receiver = Receiver(plan)
    secret = new_secret()
    with fresh_postgres(postgres_url, f"radar_bench_{uuid.uuid4().hex[:6]}") as url, running_receiver(receiver) as hook:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            add_subscription(session, name="bench", url=hook, secret=secret, allow_private=True)
        with sessions.begin() as session:
            record_minute(session, alerts=[alert(i) for i in range(n)], rollups=[])
        dispatcher = Dispatcher(
            sessions,
            concurrency=64,
            per_subscription=64,
            timeout_s=timeout_s,
            backoff_base_s=backoff_s,
            max_attempts=10,
            batch=500,
        )
        seconds = asyncio.run(_run(dispatcher, sessions, n))
        with sessions() as session:
            counts = delivery_counts(session)
        engine.dispose()
    answers = Counter(a for _, _, a in receiver.received)
    ok_ids = Counter(h["webhook-id"] for h, _ in receiver.delivered())
    keys = {json.loads(b)["data"]["key"] for _, b in receiver.delivered()}
    return {
        "seconds": seconds,
        "deliveries_per_s": counts.get(DeliveryStatus.DELIVERED, 0) / seconds,
        "requests": len(receiver.received),
        "answers": dict(answers),
        "delivered": counts.get(DeliveryStatus.DELIVERED, 0),
        "dead": counts.get(DeliveryStatus.DEAD, 0),
        "alerts_received": len(keys),
        "duplicate_deliveries": sum(c - 1 for c in ok_ids.values()),
        "webhook_ids_per_alert": max(
            len({h["webhook-id"] for h, b, _ in receiver.received if json.loads(b)["data"]["key"] == k}) for k in keys
        )
        if keys
        else 0,
        "bad_signatures": sum(not verify(secret, h, b, check_time=False) for h, b, _ in receiver.received),
    }


async def _run(dispatcher: Dispatcher, sessions, n: int) -> float:
    try:
        return await drain(dispatcher, sessions, n)
    finally:
        await dispatcher.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = Settings()
    console.log("healthy receiver…")
    healthy = scenario(settings.postgres_url, args.alerts, lambda i: "ok", backoff_s=0.05, timeout_s=5)
    console.log("faulty receiver (500/503/429/timeouts on 30% of requests)…")
    rng = random.Random(3)

    def faulty(_: int) -> str:
        roll = rng.random()
        return (
            "500"
            if roll < 0.1
            else "503"
            if roll < 0.17
            else "429"
            if roll < 0.24
            else "timeout"
            if roll < 0.3
            else "ok"
        )

    faults = scenario(settings.postgres_url, args.alerts // 4, faulty, backoff_s=0.05, timeout_s=0.5)
    rows = [
        [k, healthy.get(k, ""), faults.get(k, "")]
        for k in (
            "deliveries_per_s",
            "seconds",
            "requests",
            "delivered",
            "dead",
            "alerts_received",
            "duplicate_deliveries",
            "webhook_ids_per_alert",
            "bad_signatures",
        )
    ]
    rows.append(["receiver answers", str(healthy["answers"]), str(faults["answers"])])
    print_table("webhook dispatcher (PostgreSQL outbox, loopback receiver)", ["measure", "healthy", "faulty"], rows)
    write_json(args.json, {"healthy": healthy, "faulty": faults})


if __name__ == "__main__":
    main()
