"""The one place that knows SQLite from PostgreSQL for writes: their ``INSERT … ON CONFLICT`` constructs differ in
type, not in use, so every upsert builds its statement here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

__all__ = ["insert_for"]


def insert_for(session: Session, table: Any) -> Any:
    """An INSERT for ``table`` in the session's dialect, with ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
