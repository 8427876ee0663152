"""Closing progress kept in SQL too: ``closing_progress`` holds, per Redis prefix, the last minute whose alerts and
rollups were written, in the transaction that writes them. Redis keeps the working copy; a Redis that comes back
without it (restarted empty, its AOF lost) is recognised by this row and resumes after that minute instead of
re-closing old minutes with partial counts.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'closing_progress',
        sa.Column('prefix', sa.String(length=128), primary_key=True),
        sa.Column('closed_through', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('closing_progress')
