"""The dashboard's overview queries: what each watched entity did over the last hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Alert, EntityMinuteStat

__all__ = ["EntityOverview", "entity_overview"]


@dataclass(frozen=True)
class EntityOverview:
    """One entity over the window: its last minute with a rollup (UTC), items counted and alerts raised."""

    entity: str
    last_minute: datetime
    items: int
    alerts: int


def entity_overview(session: Session, *, since_hours: float = 24) -> list[EntityOverview]:
    """Every entity with rollups in the ``since_hours`` before the newest rollup (the window follows the data, not
    the clock, so a replay of last year shows the same); most alerts first, then most items, then by name.
    Alerts count when their window starts inside the window. Empty when there are no rollups yet."""
    latest = session.scalar(select(func.max(EntityMinuteStat.minute)))
    if latest is None:
        return []
    since = _utc(latest) - timedelta(hours=since_hours)
    stats = session.execute(
        select(EntityMinuteStat.entity, func.max(EntityMinuteStat.minute), func.sum(EntityMinuteStat.n))
        .where(EntityMinuteStat.minute >= since)
        .group_by(EntityMinuteStat.entity)
    ).all()
    alert_counts: dict[str, int] = {
        entity: count
        for entity, count in session.execute(
            select(Alert.entity, func.count()).where(Alert.window_start >= since).group_by(Alert.entity)
        ).all()
    }
    rows = [
        EntityOverview(entity=e, last_minute=_utc(m), items=int(n or 0), alerts=alert_counts.get(e, 0))
        for e, m, n in stats
    ]
    return sorted(rows, key=lambda r: (-r.alerts, -r.items, r.entity))


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
