"""Hostile records straight into Kafka, on the real stack: a worker neither crashes nor loses the valid events
around them, every one is dead-lettered with its reason, and detection still sees the next incident."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

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


def _event(event_id: str, published_at: datetime, **extra: object) -> dict[str, object]:
    return {
        "id": event_id,
        "source": "probe",
        "kind": "social",
        "text": "Acme shares slide",
        "published_at": published_at.isoformat(),
        **extra,
    }


def _poison(stamp: datetime) -> dict[str, bytes]:
    """Each row of the hostile-input table that reaches Kafka, as the raw bytes a producer in the wild sends."""
    head = json.dumps(_event("poison", stamp))[:-1].encode()
    return {
        "year 2099": json.dumps(_event("p-2099", datetime(2099, 1, 1, tzinfo=UTC))).encode(),
        "year 1970": json.dumps(_event("p-1970", datetime(1970, 1, 2, tzinfo=UTC))).encode(),
        "NUL in an entity": json.dumps(_event("p-nul", stamp, entities=["ACME\u0000X"])).encode(),
        "a path as an entity": json.dumps(_event("p-path", stamp, entities=["../../etc"])).encode(),
        "lone surrogate": head.replace(b'"poison"', b'"p-sur"') + b', "meta": {"x": "\\ud800"}}',
        "nesting 5,000 deep": head.replace(b'"poison"', b'"p-deep"')
        + b', "meta": '
        + b'{"a":' * 5000
        + b"1"
        + b"}" * 5001,
        "a 5,000-digit integer": head.replace(b'"poison"', b'"p-int"') + b', "meta": {"n": ' + b"9" * 5000 + b"}}",
    }


async def test_poison_among_valid_events_with_one_key_loses_nothing(fresh_topics, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """200 valid events and two poison records on one key (so one partition, one batch): all 200 are scored."""
    settings = fresh_topics(partitions=3).model_copy(update={"redis_prefix": f"radar:t{unique}:"})
    now = datetime.now(UTC).replace(microsecond=0)
    poison = _poison(now)
    with running_worker(settings, tmp_path / "worker.log", agents="score") as worker, EventProducer(settings) as out:
        for i in range(200):
            if i == 50:
                out.send_raw(settings.topics.raw_social, poison["lone surrogate"], key=b"same")
            if i == 120:
                out.send_raw(settings.topics.raw_social, poison["nesting 5,000 deep"], key=b"same")
            out.send_raw(settings.topics.raw_social, json.dumps(_event(f"v{i}", now)).encode(), key=b"same")
        out.flush()
        scored = read_topic(settings, settings.topics.scored, expected=200, timeout_s=90)
        letters = read_topic(settings, settings.topics.deadletter, expected=2, timeout_s=30)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    assert {json.loads(r.value)["id"] for r in scored} == {f"v{i}" for i in range(200)}
    reasons = sorted(json.loads(r.value)["reason"] for r in letters)
    assert len(reasons) == 2 and "lone surrogate" in reasons[0] + reasons[1] and "nested" in reasons[0] + reasons[1]
    assert "Traceback" not in (tmp_path / "worker.log").read_text()


async def test_a_poison_mix_does_not_blind_detection(fresh_topics, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every hostile row of the table first, then the smoke scenario: its incident is still detected, the closer
    never runs ahead of the wall clock, and each hostile record is a dead letter with its reason."""
    age = (datetime.now(UTC) - START).total_seconds() + 7 * 86_400  # the scenario's dates pass, 1970 does not
    settings = fresh_topics(partitions=3).model_copy(
        update={"redis_prefix": f"radar:t{unique}:", "event_max_age_s": age, "idle_grace_s": 10.0, "settle_s": 2.0}
    )
    texts = parse_sdist(fetch_vader_sdist(settings.cache_dir))
    scenario = generate(SCENARIOS["smoke"], texts, load_watchlist(settings.watchlist), seed=11, start=START)
    await seed_history(settings, scenario)
    poison = _poison(START + timedelta(minutes=1))
    with running_worker(settings, tmp_path / "worker.log") as worker, EventProducer(settings) as out:
        for name, raw in poison.items():
            out.send_raw(settings.topics.raw_social, raw, key=name.encode())
        out.flush()
        out.send_many(scenario.events)
        out.flush()
        store = AggregateStore(aioredis.from_url(settings.redis_url), prefix=settings.redis_prefix)
        first, deadline = int(START.timestamp() // 60), time.monotonic() + 150
        while time.monotonic() < deadline and ((await store.closed_through()) or 0) < first + 58:
            await asyncio.sleep(0.5)
        closed = await store.closed_through()
        await store.client.aclose()
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    assert closed is not None and closed >= first + 58
    assert closed * 60 <= time.time() + settings.event_max_future_s  # never ahead of the clock
    alerts = [json.loads(r.value) for r in read_topic(settings, settings.topics.alerts, expected=1, timeout_s=10)]
    opened = [a for a in alerts if a["detector"] == "volume_spike" and a["status"] == "open"]
    assert [(a["entity"], a["detector"]) for a in opened] == [("ACME", "volume_spike")]
    letters = [json.loads(r.value) for r in read_topic(settings, settings.topics.deadletter, expected=len(poison))]
    assert Counter(letter["key"] for letter in letters) == Counter(list(poison)), letters
    assert all(letter["reason"] for letter in letters)
    by_key = {letter["key"]: letter["reason"] for letter in letters}
    assert "ahead of the clock" in by_key["year 2099"] and "older than" in by_key["year 1970"]
