"""Retention on SQLite and PostgreSQL: ``radar db prune`` and the dispatcher's hourly pruning delete old minute
rollups and finished webhook deliveries, batch by batch, and never a delivery still pending or being sent."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from core.samples import sample_alert
from services.cli.db import db_app
from services.webhooks.housekeeping import Pruner
from storage.db import make_engine, make_sessionmaker
from storage.models import Alert, EntityMinuteStat, WebhookDelivery
from storage.retention import PruneCounts, count_prunable, prune_older_than
from tests.support.outbox_rows import add_deliveries, add_rollups, add_subscription_row, alert_row

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
OLD, RECENT = NOW - timedelta(days=120), NOW - timedelta(days=10)
CUTOFF = NOW - timedelta(days=90)


def _seed(sessions: sessionmaker[Session]) -> dict[str, list[int]]:
    """Old and recent rows of every kind: 2 entities x 30 minutes of rollups each, deliveries in every status."""
    kept: dict[str, list[int]] = {"old_unfinished": [], "recent": []}
    with sessions.begin() as session:
        add_rollups(session, first_minute=OLD, minutes=30)
        add_rollups(session, first_minute=RECENT, minutes=30)
        sub = add_subscription_row(session, name="s")
        for status in ("delivered", "dead", "cancelled"):
            add_deliveries(session, subscription_id=sub, status=status, created_at=OLD, count=5)
            kept["recent"] += add_deliveries(session, subscription_id=sub, status=status, created_at=RECENT)
        for status in ("pending", "sending"):  # however old: never pruned
            kept["old_unfinished"] += add_deliveries(session, subscription_id=sub, status=status, created_at=OLD)
    return kept


def _left(sessions: sessionmaker[Session]) -> tuple[int, set[int]]:
    with sessions() as session:
        rollups = session.scalar(select(func.count()).select_from(EntityMinuteStat))
        deliveries = set(session.scalars(select(WebhookDelivery.id)))
    return int(rollups or 0), deliveries


def _pruned(table: str) -> float:
    return REGISTRY.get_sample_value("radar_retention_deleted_rows_total", {"table": table}) or 0.0


def test_prune_deletes_old_rollups_and_finished_deliveries_in_batches(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    kept = _seed(sessions)
    with sessions() as session:
        assert count_prunable(session, cutoff=CUTOFF) == PruneCounts(rollups=60, deliveries=15)

    batches = 0

    def keep_going() -> bool:
        nonlocal batches
        batches += 1
        return True

    assert prune_older_than(sessions, cutoff=CUTOFF, batch=7, keep_going=keep_going) == PruneCounts(60, 15)
    assert batches >= 60 // 8 + 15 // 7  # a transaction per batch, not one for everything
    rollups, deliveries = _left(sessions)
    assert rollups == 60 and deliveries == set(kept["recent"]) | set(kept["old_unfinished"])
    assert prune_older_than(sessions, cutoff=CUTOFF) == PruneCounts(0, 0)  # nothing left to do
    engine.dispose()


def test_prune_stops_between_batches_when_asked(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    _seed(sessions)
    answers = iter([True, False])  # one batch, then stop
    counts = prune_older_than(sessions, cutoff=CUTOFF, batch=10, keep_going=lambda: next(answers, False))
    assert 10 <= counts.rollups < 60 and counts.deliveries == 0  # whole minutes: 2 entities a minute
    assert _left(sessions)[0] == 120 - counts.rollups
    engine.dispose()


def test_radar_db_prune_dry_run_then_prune(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADAR_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    _seed(sessions)
    runner = CliRunner()

    dry = runner.invoke(db_app, ["prune", "--older-than", "90d", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would delete" in dry.output and "60 minute rollups" in dry.output and "15 finished" in dry.output
    assert _left(sessions)[0] == 120  # nothing went

    done = runner.invoke(db_app, ["prune", "--older-than", "2160h", "--batch-size", "9"])
    assert done.exit_code == 0, done.output
    assert "deleted" in done.output and "60 minute rollups" in done.output and "15 finished" in done.output
    assert _left(sessions)[0] == 60

    for bad in ("90", "90x", "d", "0d", "-5d", "1.5d"):
        result = runner.invoke(db_app, ["prune", "--older-than", bad])
        assert result.exit_code == 2 and "Invalid value for '--older-than'" in result.output, (bad, result.output)
    engine.dispose()


async def test_the_dispatchers_pruner_applies_retention_days(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    kept = _seed(sessions)
    before = _pruned("entity_minute_stats"), _pruned("webhook_deliveries")
    stop = asyncio.Event()

    await asyncio.wait_for(Pruner(sessions, retention_days=0, first_after_s=0).run_forever(stop), 1)  # 0: never
    assert _left(sessions)[0] == 120
    pruner = Pruner(sessions, retention_days=90, first_after_s=0.05, every_s=3600, batch=25)
    running = asyncio.create_task(pruner.run_forever(stop))
    expected = (60, set(kept["recent"]) | set(kept["old_unfinished"]))
    deadline = time.monotonic() + 10
    while _left(sessions) != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(running, 2)  # the hour's wait ends at the stop
    assert _left(sessions) == expected
    assert _pruned("entity_minute_stats") - before[0] == 60 and _pruned("webhook_deliveries") - before[1] == 15
    assert await pruner.prune_once() == PruneCounts(0, 0)
    engine.dispose()


async def test_a_failed_prune_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine("postgresql+psycopg://nobody:nothing@127.0.0.1:1/none")
    assert await Pruner(make_sessionmaker(engine), retention_days=30).prune_once() is None
    assert "retention pruning failed" in caplog.text
    engine.dispose()


def test_prune_empties_the_kept_texts_of_old_resolved_alerts_only(database_url: str) -> None:
    """People's posts quoted as evidence leave with retention; the alert record, its counts and phrases stay, and
    an alert still open or acknowledged keeps its texts however old (the same on SQLite and PostgreSQL)."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    texts = [{"id": "e1", "text": "ACME defaults on its bonds", "score": -0.9, "source": "wire"}]
    explanation = {"summary": "ACME: defaults", "key_phrases": [{"phrase": "defaults"}], "representatives": texts}

    def alert(key: str, status: str, resolved_at: datetime | None) -> Alert:
        sample = sample_alert("ACME", "negative_surge", start=OLD, key=key)
        columns = {"evidence": texts, "explanation": explanation, "status": status, "resolved_at": resolved_at}
        return alert_row(sample, created_at=OLD, **columns)

    with sessions.begin() as session:
        session.add_all(
            [
                alert("old-resolved", "resolved", OLD),
                alert("recent-resolved", "resolved", RECENT),
                alert("old-open", "open", None),
                alert("old-acked", "acknowledged", None),
            ]
        )
    with sessions() as session:
        assert count_prunable(session, cutoff=CUTOFF).evidence == 1
    assert prune_older_than(sessions, cutoff=CUTOFF) == PruneCounts(0, 0, 1)
    with sessions() as session:
        rows = {a.alert_key: a for a in session.scalars(select(Alert))}
        assert rows["old-resolved"].evidence == [] and rows["old-resolved"].explanation == {
            **explanation,
            "representatives": [],
        }
        for key in ("recent-resolved", "old-open", "old-acked"):
            assert rows[key].evidence == texts and rows[key].explanation == explanation
    assert prune_older_than(sessions, cutoff=CUTOFF) == PruneCounts(0, 0, 0)  # nothing left to do
    engine.dispose()
