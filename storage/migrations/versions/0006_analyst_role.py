"""A read-only role for dashboards: ``radar_analyst`` may read the alerts, the rollups, the watchlist and the analyst
views, and nothing of the webhook tables (their URLs and secrets). PostgreSQL only; the role is the DBA's to create
(``CREATE ROLE radar_analyst NOLOGIN``, the local stack's, with Grafana logging in as a member of it:
``CREATE ROLE grafana LOGIN PASSWORD '...' IN ROLE radar_analyst``; or, as compose does at the database's first
start, ``radar_analyst`` itself with ``LOGIN`` and a password, for Grafana to log in as). Without the role this migration only notes
it, so a deployment whose owner may not create roles still migrates.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

ROLE = 'radar_analyst'
READABLE = ('alerts', 'entity_minute_stats', 'watched_entities', 'alerts_per_day', 'hourly_sentiment', 'delivery_status')


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    tables = ', '.join(READABLE)
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"EXECUTE 'GRANT USAGE ON SCHEMA ' || quote_ident(current_schema()) || ' TO {ROLE}'; "
        f"GRANT SELECT ON {tables} TO {ROLE}; "
        f"ELSE RAISE NOTICE 'no role {ROLE}: create it and re-grant for read-only dashboards'; END IF; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    tables = ', '.join(READABLE)
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"REVOKE SELECT ON {tables} FROM {ROLE}; END IF; END $$"
    )
