"""The alert store on SQLite and PostgreSQL: idempotent alerts with their outbox rows, rollups, analyst views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from core.alerts import Alert as DomainAlert
from core.alerts import Evidence
from core.domain import AlertStatus, Severity
from core.errors import Conflict
from core.samples import sample_alert
from storage.alerts_repo import acknowledge_alert, alert_from_row, entity_series, list_alerts, record_minute
from storage.db import make_engine, make_sessionmaker
from storage.models import Alert, WebhookDelivery
from storage.subscriptions import add_subscription
from stream.closer import Rollup
from stream.detectors import MinuteStats

T = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MINUTE = int(T.timestamp() // 60)


def _alert(entity: str, detector: str, severity: str = "high", minute: int = MINUTE) -> DomainAlert:
    start = datetime.fromtimestamp(minute * 60, tz=UTC)
    return sample_alert(
        entity,
        detector,
        start=start,
        window_end=start,
        severity=Severity(severity),
        message=f"{entity} spiked",
        evidence=[Evidence(id="e1", text="bad news", score=-0.9, source="newswire")],
    )


def _subscribe(session, name: str, **filters) -> None:  # type: ignore[no-untyped-def]
    add_subscription(session, name=name, url="http://example.invalid/hook", secret="whsec_eA==", now=T, **filters)


def test_alerts_are_idempotent_and_fan_out_to_matching_subscriptions(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        _subscribe(session, "all")
        _subscribe(session, "acme-only", entities=["ACME"])
        _subscribe(session, "critical-only", min_severity="critical")
        _subscribe(session, "volume-only", detectors=["volume_spike"])
    alerts = [_alert("ACME", "volume_spike"), _alert("GLBX", "negative_surge", "critical")]
    rollups = [Rollup("ACME", MINUTE, MinuteStats(40, 30, 5, 5, -20.0, 15.0)), Rollup("GLBX", MINUTE, MinuteStats(3))]
    for _ in range(3):  # a minute re-closed after a crash changes nothing
        with sessions.begin() as session:
            record_minute(session, alerts=alerts, rollups=rollups)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 2
        pairs = {(d.alert.entity, d.subscription.name) for d in session.scalars(select(WebhookDelivery))}
        assert pairs == {
            ("ACME", "all"),
            ("ACME", "acme-only"),
            ("ACME", "volume-only"),
            ("GLBX", "all"),
            ("GLBX", "critical-only"),
        }
        assert len({d.webhook_id for d in session.scalars(select(WebhookDelivery))}) == 5
        series = entity_series(session, entity="ACME")
        assert [(s.n, s.negative, round(s.mean_score, 3)) for s in series] == [(40, 30, -0.5)]
        page1 = list_alerts(session, limit=1)
        page2 = list_alerts(session, limit=1, before_id=page1[0].id)
        assert [a.entity for a in page1 + page2] == ["GLBX", "ACME"]
        assert [a.entity for a in list_alerts(session, min_severity="critical")] == ["GLBX"]
        assert list_alerts(session, entity="ACME")[0].evidence[0]["text"] == "bad news"
    with engine.connect() as conn:
        per_day = conn.execute(sa.text("SELECT entity, alerts FROM alerts_per_day ORDER BY entity")).all()
        hourly = conn.execute(
            sa.text("SELECT entity, items, negative_share FROM hourly_sentiment ORDER BY entity")
        ).all()
        status = conn.execute(sa.text("SELECT subscription, status, deliveries FROM delivery_status")).all()
    assert [tuple(r) for r in per_day] == [("ACME", 1), ("GLBX", 1)]
    assert [(r[0], r[1]) for r in hourly] == [("ACME", 40), ("GLBX", 3)] and round(hourly[0][2], 2) == 0.75
    assert sum(r[2] for r in status) == 5 and {r[1] for r in status} == {"pending"}
    engine.dispose()


def test_rollups_upsert_the_latest_counts(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        record_minute(session, alerts=[], rollups=[Rollup("ACME", MINUTE, MinuteStats(5, 1, 1, 3, 1.0, 2.0))])
    with sessions.begin() as session:
        record_minute(session, alerts=[], rollups=[Rollup("ACME", MINUTE, MinuteStats(7, 1, 1, 5, 2.0, 3.0))])
    with sessions() as session:
        assert [(s.n, s.positive) for s in entity_series(session, entity="ACME")] == [(7, 5)]
    engine.dispose()


def test_resolutions_and_acknowledgements(database_url: str) -> None:
    """An alert opens (status open, opened_at = its window end), is acknowledged, resolves once (acknowledged or not)
    with one 'resolved' outbox row per matching subscription, in the transaction of its minute."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        _subscribe(session, "all")
        _subscribe(session, "critical-only", min_severity="critical")
    acme, glbx = _alert("ACME", "volume_spike"), _alert("GLBX", "negative_surge", "critical")
    with sessions.begin() as session:
        record_minute(session, alerts=[acme, glbx], rollups=[], now=T)
    with sessions.begin() as session:
        acknowledge_alert(session, alert_id=1, by="alice")
    resolved_at = T + timedelta(minutes=20)
    for _ in range(2):  # a re-closed minute resolves nothing twice
        with sessions.begin() as session:
            record_minute(session, alerts=[], rollups=[], resolved=[a.resolved(resolved_at) for a in (acme, glbx)])
    with sessions() as session:
        stored = [alert_from_row(row) for row in list_alerts(session)][::-1]
        assert [(a.status, a.resolved_at, a.opened_at) for a in stored] == [(AlertStatus.RESOLVED, resolved_at, T)] * 2
        assert stored[0].acknowledged_by == "alice"
        events = sorted(
            (d.alert.entity, d.subscription.name, d.event) for d in session.scalars(select(WebhookDelivery))
        )
        assert events == [
            ("ACME", "all", "opened"),
            ("ACME", "all", "resolved"),
            ("GLBX", "all", "opened"),
            ("GLBX", "all", "resolved"),
            ("GLBX", "critical-only", "opened"),
            ("GLBX", "critical-only", "resolved"),
        ]
        with pytest.raises(Conflict):
            acknowledge_alert(session, alert_id=2, by="bob")
    engine.dispose()


async def test_the_sql_sink_records_each_prefixs_closing_progress_with_its_minute(database_url: str) -> None:
    """What a Redis that lost its state resumes from (stream.closer): the minute SQL closed per prefix (never moving
    back when a minute is closed again) and the alerts not yet resolved."""
    import uuid

    from stream.minute_sink import ClosedMinute
    from stream.sinks import SqlAlertSink, SqlProgress

    engine = make_engine(database_url)
    prefix = f"radar:progress{uuid.uuid4().hex[:6]}:"
    sink, progress = SqlAlertSink(engine, prefix), SqlProgress(engine, prefix)
    assert await progress.closed_through() is None
    opened = _alert(f"P{uuid.uuid4().hex[:6]}", "volume_spike")
    await sink.emit(ClosedMinute(MINUTE, opened=(opened,)))
    await sink.emit(ClosedMinute(MINUTE + 1))
    await sink.emit(ClosedMinute(MINUTE))  # a minute closed again after a crash
    assert await progress.closed_through() == MINUTE + 1
    assert await SqlProgress(engine, "radar:other:").closed_through() is None
    held = [a for a in await progress.unresolved_alerts() if a.key == opened.key]
    assert [(a.entity, a.detector, a.status) for a in held] == [(opened.entity, "volume_spike", AlertStatus.OPEN)]
    await sink.emit(ClosedMinute(MINUTE + 2, resolved=(opened.resolved(T + timedelta(minutes=20)),)))
    assert all(a.key != opened.key for a in await progress.unresolved_alerts())
    engine.dispose()
