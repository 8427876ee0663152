"""How far behind the webhook outbox is: what the dispatcher exports as gauges after every round.

Unfinished deliveries (``pending``, or ``sending`` under a dispatcher's lease) are counted through the outbox's
``ix_deliveries_due`` index, whose first column is the status: the query reads the unfinished rows only, however
many delivered, dead and cancelled ones the table keeps. Callers own the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.domain import UNFINISHED_DELIVERIES
from storage.models import WebhookDelivery

__all__ = ["UNFINISHED", "OutboxStats", "outbox_stats"]

UNFINISHED = UNFINISHED_DELIVERIES


@dataclass(frozen=True)
class OutboxStats:
    pending: int  # deliveries not finished yet (pending or sending)
    oldest_pending_s: float  # age of the oldest of them (created_at to now); 0 when there is none


def outbox_stats(session: Session, *, now: datetime) -> OutboxStats:
    """The number of unfinished deliveries and the age of the oldest one at ``now``."""
    query = select(func.count(), func.min(WebhookDelivery.created_at)).where(WebhookDelivery.status.in_(UNFINISHED))
    count, oldest = session.execute(query).one()
    if not count or oldest is None:
        return OutboxStats(0, 0.0)
    if oldest.tzinfo is None:  # SQLite hands back naive datetimes; everything stored is UTC
        oldest = oldest.replace(tzinfo=UTC)
    return OutboxStats(int(count), max((now - oldest).total_seconds(), 0.0))
