"""The real Alertmanager (Debian's prometheus-alertmanager, started by the local stack) fed by the dispatcher's
pusher: an alert appears firing with its explanation, grouped by entity; a silence mutes it; its resolution
takes it out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.explain import explain
from core.samples import sample_alert
from core.settings import Settings
from localdev.stack import Stack
from services.webhooks.alertmanager_push import AlertmanagerPusher
from storage.alerts_repo import record_minute
from storage.db import make_engine, make_sessionmaker, upgrade


@pytest.fixture(scope="module")
def alertmanager(stack: Settings) -> str:
    service = Stack(stack, only=["alertmanager"]).services[0]
    service.up()
    return service.detail()


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Any]:
    engine = make_engine(f"sqlite:///{tmp_path / 'radar.db'}")
    upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def _until(check: Callable[[], Any], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.25)
    raise AssertionError("Alertmanager never showed it")


async def test_an_alert_fires_groups_by_entity_is_silenced_and_resolves(alertmanager: str, sessions, unique) -> None:  # type: ignore[no-untyped-def]
    entity = f"AM{unique}".upper()[:20]
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
    story = explain(
        entity, [{"text": f"{entity} halts withdrawals", "score": -0.9, "source": "wire"}] * 4, [], minutes=3
    )
    alert = sample_alert(
        entity,
        "negative_surge",
        start=start,
        window_end=start + timedelta(minutes=3),
        observed=0.9,
        expected=0.2,
        message=f"{entity}: 90% of items negative",
    ).with_explanation(story)
    with sessions.begin() as session:
        record_minute(session, alerts=[alert], rollups=[])
    pusher = AlertmanagerPusher(sessions, alertmanager, resend_s=1, resolved_for_s=30, external_url="http://radar")
    api = httpx.Client(base_url=f"{alertmanager}/api/v2", timeout=5)
    mine = {"filter": f'entity="{entity}"'}
    try:
        assert await pusher.push_once() >= 1
        shown = _until(lambda: api.get("/alerts", params=mine).json())
        assert len(shown) == 1 and shown[0]["status"]["state"] == "active"
        assert shown[0]["labels"] == {
            "alertname": "radar_negative_surge",
            "entity": entity,
            "detector": "negative_surge",
            "severity": "high",
        }
        assert shown[0]["annotations"]["summary"] == story.summary
        assert "halts withdrawals" in shown[0]["annotations"]["description"]
        assert shown[0]["generatorURL"].startswith("http://radar/#alert=")
        groups = api.get("/alerts/groups", params=mine).json()
        assert [g["labels"] for g in groups] == [{"entity": entity}]

        now = datetime.now(UTC)
        silence = api.post(
            "/silences",
            json={
                "matchers": [{"name": "entity", "value": entity, "isRegex": False, "isEqual": True}],
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(hours=1)).isoformat(),
                "createdBy": "test",
                "comment": "muted by the test",
            },
        ).json()["silenceID"]
        await pusher.push_once()
        muted = _until(
            lambda: [a for a in api.get("/alerts", params=mine).json() if a["status"]["state"] == "suppressed"]
        )
        assert muted[0]["status"]["silencedBy"] == [silence]

        with sessions.begin() as session:
            record_minute(session, alerts=[], rollups=[], resolved=[alert.resolved(datetime.now(UTC))])
        await pusher.push_once()
        _until(lambda: api.get("/alerts", params=mine).json() == [])  # resolved: no longer shown
    finally:
        api.close()
        await pusher.close()
