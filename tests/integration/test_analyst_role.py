"""Dashboards read as ``radar_analyst`` (migration 0006, on the stack's PostgreSQL): the analyst tables and views,
never the webhook tables, whose URLs and secrets would let a reader forge or redirect alerts."""

from __future__ import annotations

import sqlalchemy as sa

from core.settings import Settings
from localdev.databases import fresh_postgres

READABLE = (
    "alerts",
    "entity_minute_stats",
    "watched_entities",
    "alerts_per_day",
    "hourly_sentiment",
    "delivery_status",
)


def test_the_analyst_role_reads_the_analyst_views_and_not_the_webhook_tables(stack: Settings, unique: str) -> None:
    with fresh_postgres(stack.postgres_url, f"radar_t{unique}") as url:
        engine = sa.create_engine(url)
        with engine.connect() as conn:

            def can(table: str, privilege: str = "SELECT") -> bool:
                query = sa.text("SELECT has_table_privilege('radar_analyst', :t, :p)")
                return bool(conn.execute(query, {"t": table, "p": privilege}).scalar())

            assert all(can(table) for table in READABLE), [t for t in READABLE if not can(t)]
            assert not can("webhook_subscriptions") and not can("webhook_deliveries")
            assert not any(can(table, "INSERT") or can(table, "UPDATE") for table in READABLE)
        engine.dispose()
