"""webhook_deliveries.lease_owner: which dispatcher round holds a delivery's lease, so that only it renews the
lease and records the outcome (a dispatcher whose lease ran out must not overwrite the new holder's result).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ALTER TABLE on both databases (batch mode would rebuild the SQLite table under the views of 0001)
    op.add_column('webhook_deliveries', sa.Column('lease_owner', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('webhook_deliveries', 'lease_owner')
