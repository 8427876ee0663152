"""Ingestion throughput: the replay producer, and the HTTP ingest API under a real async load client.

    uv run python -m bench.ingest [--events 50000] [--seconds 10] [--json PATH]

1. replay: `radar replay`'s code path (validate + kafka-python producer, acks=all, lz4) for N scenario events;
2. HTTP: `radar api` as its own process on a free loopback port, an httpx async client with 32 connections
   posting single events and NDJSON batches of 100 for a fixed time; events/s, requests/s and the error rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.common import console, print_table, write_json
from bench.pipeline import fresh
from core.settings import Settings
from localdev.receiver import free_port
from localdev.replay import replay
from localdev.scenarios import build_scenario
from storage.db import make_engine, upgrade
from stream.producer import EventProducer


def replay_rate(settings: Settings, n: int) -> float:
    scenario = build_scenario(settings, "clean-day", seed=5)
    events = (scenario.events * (n // len(scenario.events) + 1))[:n]
    events = [{**e, "id": f"{e['id']}-{i}"} for i, e in enumerate(events)]
    with EventProducer(settings) as producer:
        summary = replay(events, producer)
    return summary.events_per_s


async def http_load(base: str, token: str, seconds: float, batch: int, connections: int = 32) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    ok = errors = events = 0
    deadline = time.perf_counter() + seconds

    def body(n: int) -> bytes:
        now = datetime.now(UTC).isoformat()
        return b"\n".join(
            json.dumps(
                {
                    "id": uuid.uuid4().hex,
                    "source": "load",
                    "kind": "social",
                    "text": "Acme shares jump after earnings",
                    "published_at": now,
                }
            ).encode()
            for _ in range(n)
        )

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal ok, errors, events
            while time.perf_counter() < deadline:
                try:
                    response = await client.post("/v1/events", content=body(batch), headers=headers)
                except httpx.HTTPError:
                    errors += 1
                    continue
                if response.status_code == 202:
                    ok += 1
                    events += batch
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {
        "events_per_s": events / elapsed,
        "requests_per_s": (ok + errors) / elapsed,
        "error_rate": errors / max(ok + errors, 1),
        "requests": ok + errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = fresh(Settings(), "ing")
    console.log(f"replaying {args.events} events…")
    replay_eps = replay_rate(settings, args.events)
    port = free_port()
    env = {**os.environ, **settings.to_env(), "RADAR_DATABASE_URL": "sqlite:///var/bench-ingest.db"}
    engine = make_engine(env["RADAR_DATABASE_URL"])
    upgrade(engine)  # `radar db upgrade`: the API only checks the revision of a database it finds
    engine.dispose()
    log = Path("var/log/bench/ingest-api.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        api = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "api", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        token = settings.api_token.get_secret_value()
        single = asyncio.run(http_load(base, token, args.seconds, batch=1))
        batched = asyncio.run(http_load(base, token, args.seconds, batch=100))
    finally:
        api.terminate()
        api.wait(timeout=20)
    rows = [
        ["replay producer (events/s)", replay_eps, "", ""],
        [
            "HTTP, 1 event per request (events/s)",
            single["events_per_s"],
            f"{single['requests_per_s']:,.0f} req/s",
            f"{single['error_rate']:.2%} errors of {single['requests']:,.0f}",
        ],
        [
            "HTTP, NDJSON 100 per request (events/s)",
            batched["events_per_s"],
            f"{batched['requests_per_s']:,.0f} req/s",
            f"{batched['error_rate']:.2%} errors of {batched['requests']:,.0f}",
        ],
    ]
    print_table(
        "ingestion (acks=all, lz4; one API process, 32 client connections)",
        ["path", "rate", "requests", "errors"],
        rows,
    )
    write_json(args.json, {"replay_events_per_s": replay_eps, "http_single": single, "http_ndjson_100": batched})


if __name__ == "__main__":
    main()
