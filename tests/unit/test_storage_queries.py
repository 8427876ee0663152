"""The queries moved into storage/ (subscriptions, the dashboard's entity overview) on a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.samples import sample_alert
from storage.dashboard import EntityOverview, count_entities, entity_overview
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import Alert, EntityMinuteStat, WebhookDelivery
from storage.subscriptions import (
    add_subscription,
    disable_subscription,
    find_subscription,
    list_subscriptions,
    remove_subscription,
)
from tests.support.outbox_rows import alert_row

T = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'radar.db'}")
    upgrade(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


def _alert(entity: str, at: datetime) -> Alert:
    return alert_row(sample_alert(entity, start=at), created_at=at)


def _stat(entity: str, minute: datetime, n: int) -> EntityMinuteStat:
    return EntityMinuteStat(
        entity=entity,
        minute=minute,
        n=n,
        negative=0,
        neutral=n,
        positive=0,
        score_sum=0.0,
        score_sq_sum=0.0,
        mean_score=0.0,
    )


def test_subscriptions_add_find_list_disable_remove(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        added = add_subscription(
            session,
            name="b",
            url="https://b.example/hook",
            secret="whsec_eA==",
            entities=["ACME"],
            detectors=[],
            min_severity="high",
        )
        add_subscription(session, name="a", url="https://a.example/hook", secret="whsec_eA==", allow_private=True)
        assert added.id is not None and added.enabled and added.detectors is None and added.entities == ["ACME"]
        session.add(_alert("ACME", T))
        session.flush()
        alert_id = session.scalar(select(Alert.id))
        session.add(
            WebhookDelivery(
                alert_id=alert_id,
                subscription_id=added.id,
                webhook_id="msg_1",
                status="pending",
                attempts=0,
                next_attempt_at=T,
                created_at=T,
            )
        )
    with sessions.begin() as session:
        assert [s.name for s in list_subscriptions(session)] == ["a", "b"]
        assert find_subscription(session, name="nope") is None
        disable_subscription(session, subscription_id=added.id, reason="410 Gone")
    with sessions.begin() as session:
        b = find_subscription(session, name="b")
        assert b is not None and not b.enabled and b.disabled_reason == "410 Gone"
        assert session.scalars(select(WebhookDelivery.status)).all() == ["cancelled"]
        assert remove_subscription(session, name="a") and not remove_subscription(session, name="a")
        assert [s.name for s in list_subscriptions(session)] == ["b"]


def test_entity_overview_counts_the_window_before_the_newest_rollup(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert entity_overview(session) == []
    with sessions.begin() as session:
        session.add_all([_stat("ACME", T - timedelta(minutes=m), 10) for m in range(3)])
        session.add_all([_stat("GLBX", T - timedelta(minutes=m), 20) for m in range(2)])
        session.add(_stat("GLBX", T - timedelta(hours=30), 1000))  # before the window
        session.add_all([_stat("OLDCO", T - timedelta(hours=25), 5), _stat("ZED", T, 20)])
        session.add_all([_alert("ACME", T - timedelta(minutes=1)), _alert("OLDCO", T - timedelta(hours=26))])
    with sessions() as session:
        overview = entity_overview(session, since_hours=24)
        wider = entity_overview(session, since_hours=48)
    assert overview == [
        EntityOverview(entity="ACME", last_minute=T, items=30, alerts=1),
        EntityOverview(entity="GLBX", last_minute=T, items=40, alerts=0),
        EntityOverview(entity="ZED", last_minute=T, items=20, alerts=0),
    ]
    assert [(r.entity, r.items, r.alerts) for r in wider][:2] == [("ACME", 30, 1), ("OLDCO", 5, 1)]


def test_entity_overview_pages_in_a_total_order(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:  # ties on alerts and items: the name decides
        session.add_all([_stat(f"E{i:02d}", T, 10 + i % 3) for i in range(25)])
        session.add(_alert("E07", T))
    with sessions() as session:
        every = entity_overview(session)
        pages = [entity_overview(session, limit=10, offset=o) for o in (0, 10, 20)]
        total = count_entities(session)
    assert total == 25 and [len(p) for p in pages] == [10, 10, 5]
    assert [r.entity for p in pages for r in p] == [r.entity for r in every]
    assert every[0].entity == "E07"
    assert [r.entity for r in every[1:4]] == ["E02", "E05", "E08"]  # 12 items each, then by name
