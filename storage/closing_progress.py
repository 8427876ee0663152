"""What SQL remembers of the closer's progress, for the day Redis forgets it.

Redis holds ``closed_through`` and the detectors' state; with ``appendfsync always`` an acknowledged write survives
a kill -9 of Redis, but a Redis that comes back empty (a new node, a lost volume) would otherwise re-open history:
events of old minutes would not be late any more, and the closer would re-close those minutes from their few new
events, overwriting good rollups. So each minute's SQL transaction also records the minute here, and the alerts
still open in SQL are what a new detector state adopts, so they resolve instead of staying open for ever.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.alerts import Alert
from core.domain import AlertStatus
from storage.alerts_repo import alert_from_row
from storage.dialect import insert_for
from storage.models import Alert as AlertRow
from storage.models import ClosingProgress

__all__ = ["durable_closed_through", "record_progress", "unresolved_alerts"]


def record_progress(session: Session, prefix: str, minute: int, now: datetime | None = None) -> None:
    """``minute`` is closed for ``prefix`` (in the caller's transaction; never moves back)."""
    statement = insert_for(session, ClosingProgress).values(
        prefix=prefix, closed_through=minute, updated_at=now or datetime.now(UTC)
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["prefix"],
            set_={"closed_through": statement.excluded.closed_through, "updated_at": statement.excluded.updated_at},
            where=ClosingProgress.closed_through < statement.excluded.closed_through,
        )
    )


def durable_closed_through(session: Session, prefix: str) -> int | None:
    return session.scalar(select(ClosingProgress.closed_through).where(ClosingProgress.prefix == prefix))


def unresolved_alerts(session: Session, *, limit: int = 10_000) -> list[Alert]:
    """Alerts open or acknowledged, oldest first, as the detectors hold them (without their evidence)."""
    rows = session.scalars(
        select(AlertRow).where(AlertRow.status != AlertStatus.RESOLVED.value).order_by(AlertRow.id).limit(limit)
    )
    return [Alert.model_validate(alert_from_row(row).model_dump(include=set(Alert.model_fields))) for row in rows]
