"""Detection end to end on real Kafka, Triton (tiny model) and Redis: an injected incident raises the right
alert for the right entity. (A worker killed with SIGKILL and restarted is a fault of the reliability tier:
tests/reliability/test_faults.py, with exact counts, alerts and webhooks checked.)"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime

import redis.asyncio as aioredis

from inference.dataset import fetch_vader_sdist, parse_sdist
from localdev.history import seed_history
from localdev.scenarios import SCENARIOS, generate
from localdev.workers import running_worker
from storage.aggregates import AggregateStore
from stream.entities import load_watchlist
from stream.producer import EventProducer
from tests.support.kafka_read import read_topic

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _scenario(settings):  # type: ignore[no-untyped-def]
    texts = parse_sdist(fetch_vader_sdist(settings.cache_dir))
    return generate(SCENARIOS["smoke"], texts, load_watchlist(settings.watchlist), seed=11, start=START)


def _send(settings, events) -> None:  # type: ignore[no-untyped-def]
    with EventProducer(settings) as producer:
        producer.send_many(events)
        producer.flush()


async def _wait_closed(settings, last_minute: int, timeout_s: float = 120) -> AggregateStore:  # type: ignore[no-untyped-def]
    store = AggregateStore(aioredis.from_url(settings.redis_url), prefix=settings.redis_prefix)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        closed = await store.closed_through()
        if closed is not None and closed >= last_minute:
            return store
        await asyncio.sleep(0.5)
    raise AssertionError(f"minutes not closed through {last_minute}: {await store.closed_through()}")


async def _counts(store: AggregateStore, entities: list[str], first: int, last: int) -> dict[str, int]:
    return {e: sum(s.n for s in await store.series(e, first, last)) for e in entities}


async def test_injected_incident_raises_the_right_alert(fresh_topics, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = fresh_topics(partitions=3).model_copy(update={"redis_prefix": f"radar:t{unique}:"})
    scenario = _scenario(settings)
    truth = scenario.truth()["incidents"][0]
    await seed_history(settings, scenario)  # a worker that has watched these entities for ten days
    with running_worker(settings, tmp_path / "worker.log") as worker:
        _send(settings, scenario.events)
        first = int(START.timestamp() // 60)
        store = await _wait_closed(settings, first + 58)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    alerts = [json.loads(r.value) for r in read_topic(settings, settings.topics.alerts, expected=1, timeout_s=10)]
    assert alerts, "no alert for the incident"
    assert {a["entity"] for a in alerts} == {"ACME"}, alerts
    spikes = [a for a in alerts if a["detector"] == "volume_spike" and a["status"] == "open"]
    assert len(spikes) == 1
    opened = datetime.fromisoformat(spikes[0]["window_end"])
    assert datetime.fromisoformat(truth["start"]) < opened <= datetime.fromisoformat(truth["end"])
    assert (opened - datetime.fromisoformat(truth["start"])).total_seconds() <= 3 * 60  # detected within 3 minutes
    assert spikes[0]["evidence"] and spikes[0]["observed"] > 2 * spikes[0]["expected"]
    expected = Counter(e["meta"]["entity"] for e in scenario.events)
    assert await _counts(store, ["ACME", "GLBX", "INIT"], first, first + 59) == dict(expected)
    await store.client.aclose()
