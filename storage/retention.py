"""Retention: delete minute rollups and finished webhook deliveries older than a cutoff, in batches.

What goes: ``entity_minute_stats`` rows whose minute began before the cutoff, and ``webhook_deliveries`` rows
created before it that are finished (delivered, dead or cancelled). A delivery still pending, or being sent
under a dispatcher's lease, is never deleted, however old. Alerts stay (they are small and are the record), but
an alert resolved before the cutoff loses the texts it kept: its evidence and its explanation's representative
texts (people's posts, quoted; the counts, key phrases and sources stay). An open or acknowledged alert keeps
them, however old.

Each batch is its own short transaction, so a large first prune never holds a long lock on the tables the
workers and dispatchers write: rollups go a few thousand at a time along the ``minute`` index (the batch's
bound is the minute of its last row, so every row of that minute goes with it), deliveries by id. The same
statements run on PostgreSQL and SQLite. ``radar db prune`` and the dispatcher's hourly pruning
(``RADAR_RETENTION_DAYS``) both call :func:`prune_older_than`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from core.domain import FINISHED_DELIVERIES
from storage.models import Alert, EntityMinuteStat, WebhookDelivery

__all__ = [
    "FINISHED",
    "PruneCounts",
    "count_prunable",
    "prune_deliveries_batch",
    "prune_evidence_batch",
    "prune_older_than",
    "prune_rollups_batch",
]

FINISHED = FINISHED_DELIVERIES


@dataclass(frozen=True)
class PruneCounts:
    rollups: int  # entity_minute_stats rows
    deliveries: int  # finished webhook_deliveries rows
    evidence: int = 0  # resolved alerts whose kept texts went


def _old_deliveries(cutoff: datetime) -> ColumnElement[bool]:
    return and_(WebhookDelivery.status.in_(FINISHED), WebhookDelivery.created_at < cutoff)


def _old_evidence(cutoff: datetime) -> ColumnElement[bool]:
    # JSON has no equality on PostgreSQL: compared as text ('[]' is how an emptied list is written)
    return and_(Alert.status == "resolved", Alert.resolved_at < cutoff, cast(Alert.evidence, Text) != "[]")


def count_prunable(session: Session, *, cutoff: datetime) -> PruneCounts:
    """What :func:`prune_older_than` would delete with this cutoff (a dry run)."""
    rollups = session.scalar(select(func.count()).where(EntityMinuteStat.minute < cutoff))
    deliveries = session.scalar(select(func.count()).select_from(WebhookDelivery).where(_old_deliveries(cutoff)))
    evidence = session.scalar(select(func.count()).select_from(Alert).where(_old_evidence(cutoff)))
    return PruneCounts(int(rollups or 0), int(deliveries or 0), int(evidence or 0))


def prune_evidence_batch(session: Session, *, cutoff: datetime, batch: int) -> int:
    """Empty the kept texts of up to ``batch`` alerts resolved before ``cutoff``; returns how many."""
    alerts = list(session.scalars(select(Alert).where(_old_evidence(cutoff)).order_by(Alert.id).limit(batch)))
    for alert in alerts:
        alert.evidence = []
        if alert.explanation:
            alert.explanation = {**alert.explanation, "representatives": []}
    session.flush()
    return len(alerts)


def prune_rollups_batch(session: Session, *, cutoff: datetime, batch: int) -> int:
    """Delete about ``batch`` of the oldest rollups before ``cutoff`` (whole minutes); returns how many went."""
    older = EntityMinuteStat.minute < cutoff
    query = select(EntityMinuteStat.minute).where(older).order_by(EntityMinuteStat.minute)
    bound = session.scalar(query.offset(batch - 1).limit(1))
    up_to = older if bound is None else EntityMinuteStat.minute <= bound
    result: Any = session.execute(delete(EntityMinuteStat).where(up_to))
    return int(result.rowcount or 0)  # a DML result is a CursorResult


def prune_deliveries_batch(session: Session, *, cutoff: datetime, batch: int) -> int:
    """Delete up to ``batch`` finished deliveries created before ``cutoff``, oldest first; returns how many went."""
    query = select(WebhookDelivery.id).where(_old_deliveries(cutoff)).order_by(WebhookDelivery.id).limit(batch)
    ids = list(session.scalars(query))
    if not ids:
        return 0
    # the status again: a row is deleted only if it is still finished when the delete runs
    still_old = delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids), _old_deliveries(cutoff))
    result: Any = session.execute(still_old)
    return int(result.rowcount or 0)


def prune_older_than(
    sessions: sessionmaker[Session],
    *,
    cutoff: datetime,
    batch: int = 5000,
    keep_going: Callable[[], bool] = lambda: True,
) -> PruneCounts:
    """Delete everything retention covers that is older than ``cutoff``, one transaction per batch, until nothing
    is left or ``keep_going()`` says stop (checked between batches: what was deleted stays deleted)."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    rollups = _drain(sessions, prune_rollups_batch, cutoff=cutoff, batch=batch, keep_going=keep_going)
    deliveries = _drain(sessions, prune_deliveries_batch, cutoff=cutoff, batch=batch, keep_going=keep_going)
    evidence = _drain(sessions, prune_evidence_batch, cutoff=cutoff, batch=batch, keep_going=keep_going)
    return PruneCounts(rollups, deliveries, evidence)


def _drain(
    sessions: sessionmaker[Session],
    prune_batch: Callable[..., int],
    *,
    cutoff: datetime,
    batch: int,
    keep_going: Callable[[], bool],
) -> int:
    deleted = 0
    while keep_going():
        with sessions.begin() as session:
            went = prune_batch(session, cutoff=cutoff, batch=batch)
        deleted += went
        if not went:
            break
    return deleted
