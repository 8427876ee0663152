"""The alert lifecycle end to end on the real services: a real worker (Kafka, Triton's tiny model, Redis) replays an
incident and the quiet minutes after it; the volume alert opens, then resolves once the detector has stayed normal
for RADAR_ALERT_RESOLVE_AFTER_S (event time); PostgreSQL shows it resolved, radar.alerts carries the opening and
the resolution, the outbox holds an 'opened' and a 'resolved' delivery per subscription, and a real dispatcher
delivers both to loopback receivers: Standard Webhooks alert.opened then alert.resolved (signatures verified), and
Alertmanager firing then resolved with endsAt = resolved_at.

It prints how long the resolution took after the incident's end: in simulated (event-time) minutes, and in wall
seconds from the closing of the incident's last minute to alert.resolved at the receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from core.settings import Settings
from core.webhook_signing import new_secret
from inference.dataset import fetch_vader_sdist, parse_sdist
from localdev.databases import fresh_postgres
from localdev.history import seed_history
from localdev.receiver import Receiver, running_receiver
from localdev.scenarios import Incident, Scenario, ScenarioSpec, generate
from localdev.workers import running_worker
from services.webhooks.dispatcher import Dispatcher
from storage.aggregates import AggregateStore
from storage.db import make_engine, make_sessionmaker
from storage.models import Alert as AlertRow
from storage.models import WebhookDelivery
from storage.subscriptions import add_subscription
from stream.entities import load_watchlist
from stream.producer import EventProducer
from tests.support.kafka_read import read_topic

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
# the smoke scenario's storm (ACME, minutes 35-45, 60x), with 45 quiet minutes after it instead of 15
SPEC = ScenarioSpec(
    "lifecycle", 90, 6.0, (Incident("ACME", 35, 10, multiplier=60),), entities=("ACME", "GLBX", "INIT"), bursts=False
)
RESOLVE_AFTER_S = 900.0  # the default: 15 closed minutes


@pytest.fixture
def lifecycle_settings(fresh_topics, unique) -> Iterator[Settings]:
    settings = fresh_topics(partitions=3)
    with fresh_postgres(settings.postgres_url, f"radar_l{unique}") as url:
        # a short idle grace: the minute holding the last event closes soon after the replay
        yield settings.model_copy(
            update={"database_url": url, "idle_grace_s": 5.0, "alert_resolve_after_s": RESOLVE_AFTER_S}
        )


def _scenario(settings: Settings) -> Scenario:
    texts = parse_sdist(fetch_vader_sdist(settings.cache_dir))
    return generate(SPEC, texts, load_watchlist(settings.watchlist), seed=11, start=START)


def _subscribe(settings: Settings, radar_url: str, manager_url: str, secret: str) -> None:
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine).begin() as session:
        for name, url, payload_format in (("radar", radar_url, "radar"), ("manager", manager_url, "alertmanager")):
            add_subscription(
                session,
                name=name,
                url=url,
                secret=secret,
                payload_format=payload_format,
                entities=["ACME"],
                detectors=["volume_spike"],
                allow_private=True,
            )
    engine.dispose()


def _bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in receiver.delivered()]


async def _wait_for_resolution(settings: Settings, radar: Receiver, incident_end: int) -> dict[str, float]:
    """Run a dispatcher until the radar receiver has alert.resolved; the wall time of the incident's last minute
    closing and of the resolution's arrival."""
    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(make_sessionmaker(engine), timeout_s=2.0, backoff_base_s=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run_forever(stop, idle_s=0.2))
    store = AggregateStore(aioredis.from_url(settings.redis_url), prefix=settings.redis_prefix)
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 300
    try:
        while "resolved" not in seen and time.monotonic() < deadline:
            closed = await store.closed_through()
            if closed is not None and closed >= incident_end and "incident_closed" not in seen:
                seen["incident_closed"] = time.monotonic()
            if any(body["type"] == "alert.resolved" for body in _bodies(radar)):
                seen["resolved"] = time.monotonic()
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await dispatcher.close()
        await store.client.aclose()
        engine.dispose()
    assert "resolved" in seen, f"no alert.resolved within 300 s; received {[b['type'] for b in _bodies(radar)]}"
    return seen


def _check_sql(settings: Settings, key: str) -> datetime:
    """The alert is resolved in SQL, with one opened and one resolved delivery per subscription, all delivered."""
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine)() as session:
        row = session.scalars(select(AlertRow).where(AlertRow.alert_key == key)).one()
        assert row.status == "resolved" and row.resolved_at is not None and row.opened_at == row.window_end
        deliveries = session.scalars(select(WebhookDelivery).where(WebhookDelivery.alert_id == row.id)).all()
        got = sorted((d.subscription.name, d.event, d.status) for d in deliveries)
        resolved_at = row.resolved_at
    engine.dispose()
    assert got == [(name, event, "delivered") for name in ("manager", "radar") for event in ("opened", "resolved")]
    return resolved_at


def _check_published(settings: Settings, key: str, resolved_at: datetime) -> None:
    """radar.alerts: the opening (status open), then the resolution: the same alert, status resolved, resolved_at."""
    records = read_topic(settings, settings.topics.alerts, expected=100, timeout_s=10)
    mine = [json.loads(r.value) for r in records if r.key == key.encode()]
    assert [m["status"] for m in mine] == ["open", "resolved"], mine
    opened, resolved = mine
    assert opened["resolved_at"] is None and datetime.fromisoformat(resolved["resolved_at"]) == resolved_at
    same = ("entity", "detector", "window_start", "window_end", "severity", "message", "evidence")
    assert {k: resolved[k] for k in same} == {k: opened[k] for k in same}
    assert opened["evidence"] and all(e["source"] for e in opened["evidence"]), "evidence names each source"


def _check_webhooks(radar: Receiver, manager: Receiver, key: str, resolved_at: datetime) -> None:
    assert radar.verified and all(radar.verified) and manager.verified and all(manager.verified)
    bodies = _bodies(radar)
    assert [(b["type"], b["data"]["key"]) for b in bodies] == [("alert.opened", key), ("alert.resolved", key)]
    assert datetime.fromisoformat(bodies[1]["timestamp"]) == resolved_at and bodies[1]["data"]["status"] == "resolved"
    firing, done = _bodies(manager)
    assert (firing["status"], firing["alerts"][0]["endsAt"]) == ("firing", "0001-01-01T00:00:00Z")
    assert done["status"] == done["alerts"][0]["status"] == "resolved"
    assert datetime.fromisoformat(done["alerts"][0]["endsAt"]) == resolved_at


async def test_an_incident_opens_an_alert_and_quiet_minutes_resolve_it(lifecycle_settings, tmp_path: Path) -> None:
    settings: Settings = lifecycle_settings
    scenario = _scenario(settings)
    truth = scenario.truth()["incidents"][0]
    incident_end = datetime.fromisoformat(truth["end"])
    await seed_history(settings, scenario)
    secret = new_secret()
    radar, manager = Receiver(secret=secret), Receiver(secret=secret)
    with running_receiver(radar) as radar_url, running_receiver(manager) as manager_url:
        _subscribe(settings, radar_url, manager_url, secret)
        with running_worker(settings, tmp_path / "worker.log") as worker:
            sent_at = time.monotonic()
            with EventProducer(settings) as producer:
                producer.send_many(scenario.events)
                producer.flush()
            seen = await _wait_for_resolution(settings, radar, int(incident_end.timestamp() // 60) - 1)
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    key = _bodies(radar)[0]["data"]["key"]
    assert key.startswith("ACME:volume_spike:")
    resolved_at = _check_sql(settings, key)
    _check_published(settings, key, resolved_at)
    _check_webhooks(radar, manager, key, resolved_at)
    simulated_min = (resolved_at - incident_end).total_seconds() / 60
    assert RESOLVE_AFTER_S / 60 <= simulated_min <= RESOLVE_AFTER_S / 60 + 10, (incident_end, resolved_at)
    wall_s = seen["resolved"] - seen.get("incident_closed", seen["resolved"])
    replay_s = seen["resolved"] - sent_at
    print(
        f"\nalert.resolved {simulated_min:.0f} simulated minutes after the incident's end (resolve period "
        f"{RESOLVE_AFTER_S / 60:.0f} min); {wall_s:.1f} s of wall time after its last minute closed, "
        f"{replay_s:.1f} s after the replay of {len(scenario.events)} events began"
    )
