"""The watchlist in SQL, managed at run time (``radar entities``, ``/v1/watchlist``): workers re-read it instead of
a TOML file read once at start. ``min_severity`` quiets a noisy entity; ``watchlist_state`` remembers that the
TOML seed ran once, so removing every entity does not bring the seed back.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'watched_entities',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('names', sa.JSON(), nullable=False),  # the first is the display name
        sa.Column('aliases', sa.JSON(), nullable=False),
        sa.Column('cashtags', sa.JSON(), nullable=False),
        sa.Column('min_severity', sa.String(length=16), nullable=False, server_default='info'),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'watchlist_state',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=256), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('watchlist_state')
    op.drop_table('watched_entities')
