"""Every alert tells its story: ``explanation`` (core.explain: key phrases, representative texts with their copies,
sources, sentiment mix, one sentence), written when the alert opens and again when it resolves.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('alerts', sa.Column('explanation', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.drop_column('explanation')
