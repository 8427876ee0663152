"""The dispatcher exports the outbox's backlog after every round, on SQLite and PostgreSQL: a scrape of its
registry (what ``radar dispatcher`` serves on its metrics port) shows how many deliveries are unfinished and how
old the oldest one is; finished deliveries, however many, do not count."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from localdev.receiver import Receiver, running_receiver
from services.webhooks.dispatcher import Dispatcher
from storage.db import make_engine, make_sessionmaker
from tests.support.outbox_rows import add_deliveries, add_subscription_row


def _scrape() -> dict[str, float]:
    """Every sample without labels, as Prometheus would read them off the dispatcher's /metrics."""
    text = generate_latest(REGISTRY).decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples if not s.labels}


async def test_a_round_exports_the_outbox_backlog(database_url: str) -> None:
    sessions = make_sessionmaker(engine := make_engine(database_url))
    now = datetime.now(UTC)
    failing_now = {"yes": True}
    healthy, flaky = Receiver(), Receiver(lambda _: "500" if failing_now["yes"] else "ok")
    with running_receiver(healthy) as ok_url, running_receiver(flaky) as flaky_url:
        with sessions.begin() as session:
            ok = add_subscription_row(session, name="ok", url=ok_url)
            bad = add_subscription_row(session, name="flaky", url=flaky_url)
            add_deliveries(
                session, subscription_id=ok, status="pending", created_at=now - timedelta(seconds=60), count=3
            )
            add_deliveries(
                session, subscription_id=bad, status="pending", created_at=now - timedelta(seconds=300), count=4
            )
            for status in ("delivered", "dead", "cancelled"):  # finished: not the backlog, however old
                add_deliveries(session, subscription_id=ok, status=status, created_at=now - timedelta(days=3), count=2)
        dispatcher = Dispatcher(sessions, timeout_s=2.0, backoff_base_s=0.01)
        requests_before = _scrape().get("radar_webhook_request_duration_seconds_count", 0.0)

        assert await dispatcher.run_once() == 7
        metrics = _scrape()
        assert metrics["radar_outbox_pending_deliveries"] == 4  # the flaky receiver's, waiting for their retry
        assert 300 <= metrics["radar_outbox_oldest_pending_seconds"] < 360
        assert metrics["radar_webhook_request_duration_seconds_count"] - requests_before == 7
        assert len(healthy.received) == 3 and len(flaky.received) == 4

        failing_now["yes"] = False
        for _ in range(100):  # the retries come due after a backoff of 5 to 10 ms
            await dispatcher.run_once()
            if _scrape()["radar_outbox_pending_deliveries"] == 0:
                break
            await asyncio.sleep(0.01)
        await dispatcher.close()
    metrics = _scrape()
    assert metrics["radar_outbox_pending_deliveries"] == 0 and metrics["radar_outbox_oldest_pending_seconds"] == 0
    assert len(flaky.delivered()) == 4
    engine.dispose()
