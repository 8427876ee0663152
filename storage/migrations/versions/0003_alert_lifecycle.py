"""Alert lifecycle: an alert is open, acknowledged or resolved (when and by whom), and the webhook outbox carries
one delivery per alert, subscription and event (opened, resolved) instead of one per alert and subscription.

Revision ID: 0003
Revises: 0002
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _initial():  # the views of 0001 read webhook_deliveries; SQLite rebuilds that table here, so they go and come back
    spec = importlib.util.spec_from_file_location("radar_migration_0001", Path(__file__).with_name("0001_initial_schema.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    op.add_column('alerts', sa.Column('status', sa.String(length=16), nullable=False, server_default='open'))
    op.add_column('alerts', sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('alerts', sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('alerts', sa.Column('acknowledged_by', sa.String(length=128), nullable=True))
    op.add_column('alerts', sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE alerts SET opened_at = window_end")  # event time, as resolved_at
    op.create_index('ix_alerts_status', 'alerts', ['status'])
    initial = _initial()
    initial._drop_views()
    with op.batch_alter_table('webhook_deliveries') as batch_op:
        batch_op.add_column(sa.Column('event', sa.String(length=16), nullable=False, server_default='opened'))
        batch_op.drop_constraint('uq_delivery_alert_subscription', type_='unique')
        batch_op.create_unique_constraint('uq_delivery_alert_subscription_event', ['alert_id', 'subscription_id', 'event'])
    initial._create_views()


def downgrade() -> None:
    initial = _initial()
    initial._drop_views()
    op.execute("DELETE FROM webhook_deliveries WHERE event <> 'opened'")
    with op.batch_alter_table('webhook_deliveries') as batch_op:
        batch_op.drop_constraint('uq_delivery_alert_subscription_event', type_='unique')
        batch_op.create_unique_constraint('uq_delivery_alert_subscription', ['alert_id', 'subscription_id'])
        batch_op.drop_column('event')
    initial._create_views()
    op.drop_index('ix_alerts_status', table_name='alerts')
    for column in ('resolved_at', 'acknowledged_by', 'acknowledged_at', 'opened_at', 'status'):
        op.drop_column('alerts', column)
