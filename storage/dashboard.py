"""The dashboard's overview queries: what each watched entity did over the last hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import Session

from core.domain import as_utc
from storage.models import Alert, EntityMinuteStat

__all__ = ["EntityOverview", "count_entities", "entity_overview"]


@dataclass(frozen=True)
class EntityOverview:
    """One entity over the window: its last minute with a rollup (UTC), items counted and alerts raised."""

    entity: str
    last_minute: datetime
    items: int
    alerts: int


def entity_overview(
    session: Session, *, since_hours: float = 24, limit: int | None = None, offset: int = 0
) -> list[EntityOverview]:
    """The entities with rollups in the ``since_hours`` before the newest rollup (the window follows the data, not
    the clock, so a replay of last year shows the same); most alerts first, then most items, then by name (a
    total order, so pages of ``limit`` from ``offset`` neither repeat nor skip). Ordered and cut in SQL: a feed
    may name many thousands of entities. Alerts count when their window starts inside the window."""
    since = _since(session, since_hours)
    if since is None:
        return []
    stats = _stats(since)
    alerts = (
        select(Alert.entity.label("entity"), func.count().label("alerts"))
        .where(Alert.window_start >= since)
        .group_by(Alert.entity)
        .subquery()
    )
    count = func.coalesce(alerts.c.alerts, 0)
    query = (
        select(stats.c.entity, stats.c.last_minute, stats.c.n, count)
        .outerjoin(alerts, alerts.c.entity == stats.c.entity)
        .order_by(count.desc(), stats.c.n.desc(), stats.c.entity)
        .offset(offset)
        .limit(limit)
    )
    return [
        EntityOverview(entity=e, last_minute=as_utc(m), items=int(n or 0), alerts=int(a))
        for e, m, n, a in session.execute(query).all()
    ]


def count_entities(session: Session, *, since_hours: float = 24) -> int:
    """How many entities :func:`entity_overview` has in all (its pages' total)."""
    since = _since(session, since_hours)
    if since is None:
        return 0
    return int(session.scalar(select(func.count()).select_from(_stats(since))) or 0)


def _since(session: Session, since_hours: float) -> datetime | None:
    latest = session.scalar(select(func.max(EntityMinuteStat.minute)))
    return None if latest is None else as_utc(latest) - timedelta(hours=since_hours)


def _stats(since: datetime) -> Subquery:
    return (
        select(
            EntityMinuteStat.entity.label("entity"),
            func.max(EntityMinuteStat.minute).label("last_minute"),
            func.sum(EntityMinuteStat.n).label("n"),
        )
        .where(EntityMinuteStat.minute >= since)
        .group_by(EntityMinuteStat.entity)
        .subquery()
    )
