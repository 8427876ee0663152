"""One alert type from the detector to the webhook, and the bytes each channel has always carried.

radar.alerts and webhooks write instants as ``+00:00`` (isoformat), the API as ``Z`` (pydantic): both are kept.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from core.alerts import Alert, Evidence, StoredAlert, alert_key
from core.domain import Severity
from core.samples import sample_alert
from core.settings import Settings
from services.api.app import create_app
from services.webhooks.payloads import render
from storage.alerts_repo import alert_from_row, list_alerts, record_minute
from storage.models import Alert as AlertRow
from storage.models import Base, WebhookDelivery
from storage.subscriptions import add_subscription
from stream.detect import EntityDetectors, observe_minute
from stream.detectors import MinuteStats
from stream.minute_sink import ClosedMinute
from stream.sinks import ChainSink, KafkaAlertPublisher

START = datetime(2026, 1, 5, 10, tzinfo=UTC)
ALERT = sample_alert(start=START, score=0.9412, evidence=[Evidence(id="e1", text="bad news", score=-0.9)])
PUBLISHED = (
    '{"key": "ACME:volume_spike:2026-01-05T10:00Z", "entity": "ACME", "detector": "volume_spike", '
    '"window_start": "2026-01-05T10:00:00+00:00", "window_end": "2026-01-05T10:01:00+00:00", "observed": 40.0, '
    '"expected": 4.0, "score": 0.9412, "z": 9.2, "severity": "high", "message": "ACME: 40 items", '
    '"evidence": [{"id": "e1", "text": "bad news", "score": -0.9, "source": null, "kind": null, "label": null}], '
    '"explanation": null, "status": "open", "resolved_at": null}'
)  # fields added, none changed: evidence "source", "status", "resolved_at" (#16); "kind", "label", "explanation" (#23)


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, key: bytes, value: bytes, *_: Any) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class _App:
    def __init__(self) -> None:
        self.producer = _Producer()


class _Recorder:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.resolved: list[Alert] = []

    async def emit(self, closed: ClosedMinute) -> None:
        self.alerts.extend(closed.opened)
        self.resolved.extend(closed.resolved)


def test_the_detector_raises_the_domain_alert_rounded_as_published() -> None:
    detectors = EntityDetectors()
    for m in range(60):
        observe_minute(detectors, "ACME", m, MinuteStats(n=4, negative=1, neutral=1, positive=2, total=0.5))
    storm = MinuteStats(n=40, negative=34, neutral=4, positive=2, total=-26.0, total_sq=24.0)
    alerts = [a for m in range(60, 64) for a in observe_minute(detectors, "ACME", m, storm)]
    assert alerts and all(isinstance(a, Alert) and isinstance(a.severity, Severity) for a in alerts)
    for alert in alerts:
        assert alert.key == alert_key(alert.entity, alert.detector, alert.window_start)
        assert alert.score == round(alert.score, 4) and alert.z == round(alert.z, 3) and alert.evidence == []


async def test_radar_alerts_carries_the_same_json_as_before() -> None:
    app = _App()
    await KafkaAlertPublisher(app, "radar.alerts").emit(ClosedMinute(0, opened=(ALERT,)))  # type: ignore[arg-type]
    assert app.producer.sent == [("radar.alerts", ALERT.key.encode(), PUBLISHED.encode())]


async def test_a_resolution_is_the_same_alert_with_status_resolved() -> None:
    app = _App()
    done = ALERT.resolved(START + timedelta(minutes=20))
    await KafkaAlertPublisher(app, "radar.alerts").emit(ClosedMinute(0, resolved=(done,)))  # type: ignore[arg-type]
    [(_, key, value)] = app.producer.sent
    expected = {**json.loads(PUBLISHED), "status": "resolved", "resolved_at": "2026-01-05T10:20:00+00:00"}
    assert key == ALERT.key.encode() and json.loads(value) == expected


async def test_the_chain_hands_every_sink_the_domain_alert() -> None:
    first, second = _Recorder(), _Recorder()
    done = ALERT.resolved(START + timedelta(minutes=20))
    await ChainSink(first, second).emit(ClosedMinute(0, opened=(ALERT,), resolved=(done,)))
    assert first.alerts == second.alerts == [ALERT] and first.resolved == second.resolved == [done]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'radar.db'}")  # a file: the API's routes run in other threads
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _subscribe(session: Session, name: str, min_severity: str) -> None:
    add_subscription(
        session, name=name, url="http://hook.invalid", secret="whsec_eA==", min_severity=min_severity, now=START
    )


def _store(engine: Engine, *alerts: Alert) -> StoredAlert:
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        for name, floor in (("all", "info"), ("critical", "critical"), ("warning", "warning"), ("odd", "bogus")):
            _subscribe(session, name, floor)
    for _ in range(2):  # a minute closed again records nothing new
        with sessions.begin() as session:
            record_minute(session, alerts=alerts, rollups=[], now=START)
    with sessions() as session:
        return alert_from_row(session.scalars(select(AlertRow).order_by(AlertRow.id)).first())  # type: ignore[arg-type]


def test_the_store_records_the_alert_and_gives_it_back(engine: Engine) -> None:
    stored = _store(engine, ALERT)
    assert stored == StoredAlert(**dict(ALERT), id=1, created_at=START, opened_at=ALERT.window_end)
    with sessionmaker(engine)() as session:
        routed = {d.subscription.name for d in session.scalars(select(WebhookDelivery))}
        assert routed == {"all", "warning", "odd"}  # an unknown floor lets everything through, as it always did
        assert [a.id for a in list_alerts(session, min_severity=Severity.CRITICAL)] == []
        assert [a.id for a in list_alerts(session, min_severity=Severity.HIGH)] == [1]


def test_webhook_bodies_are_rendered_from_the_stored_alert(engine: Engine) -> None:
    stored = _store(engine, ALERT)
    radar = json.loads(render("radar", stored, receiver="r", external_url="http://radar.invalid"))
    lifecycle = {"opened_at": "2026-01-05T10:01:00+00:00", "acknowledged_at": None, "acknowledged_by": None}
    assert radar == {
        "type": "alert.opened",  # "alert.raised" before #16
        "timestamp": "2026-01-05T10:00:00+00:00",
        "data": {**json.loads(PUBLISHED), "id": 1, "created_at": "2026-01-05T10:00:00+00:00", **lifecycle},
    }
    body = render("alertmanager", stored, receiver="r", external_url="http://radar.invalid")
    firing = json.loads(body)["alerts"][0]
    assert firing["startsAt"] == "2026-01-05T10:00:00+00:00" and firing["labels"]["severity"] == "high"
    assert firing["annotations"]["description"] == "observed 40, expected 4, score 0.94"


async def test_the_api_lists_alerts_as_it_always_has(engine: Engine) -> None:
    _store(engine, ALERT, ALERT.model_copy(update={"key": "ACME:x", "severity": Severity.CRITICAL}))
    settings = Settings(database_url="sqlite://")
    app = create_app(settings)
    app.state.settings, app.state.sessions = settings, sessionmaker(engine)
    read = {"Authorization": f"Bearer {settings.api_read_token.get_secret_value()}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        page = (await client.get("/v1/alerts", headers=read)).json()
        critical = (await client.get("/v1/alerts", params={"min_severity": "critical"}, headers=read)).json()
        refused = await client.get("/v1/alerts", params={"min_severity": "severe"}, headers=read)
        spikes = (await client.get("/v1/alerts", params={"detector": "volume_spike"}, headers=read)).json()
        surges = (await client.get("/v1/alerts", params={"detector": "negative_surge"}, headers=read)).json()
        unknown = await client.get("/v1/alerts", params={"detector": "volume"}, headers=read)
    first = page["items"][-1]
    assert first["window_start"] == "2026-01-05T10:00:00Z" and first["created_at"] == "2026-01-05T10:00:00Z"
    evidence = [{"id": "e1", "text": "bad news", "score": -0.9, "source": None, "kind": None, "label": None}]
    assert first["severity"] == "high" and first["evidence"] == evidence and first["status"] == "open"
    assert [a["key"] for a in critical["items"]] == ["ACME:x"]
    assert refused.status_code == 422
    assert (len(spikes["items"]), surges["items"], unknown.status_code) == (2, [], 422), "a detector is a DetectorName"
