"""Rows for the retention, outbox-gauge and query tests, written straight through the models: alerts (the sample
alert of :mod:`core.samples` as :func:`storage.alerts_repo.alert_columns` records it), subscriptions, webhook
deliveries in a chosen status and age, and minute rollups."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core.alerts import Alert as DomainAlert
from core.samples import sample_alert
from storage.alerts_repo import alert_columns
from storage.models import Alert, EntityMinuteStat, WebhookDelivery
from storage.subscriptions import add_subscription

__all__ = ["add_deliveries", "add_rollups", "add_subscription_row", "alert_row"]


def alert_row(alert: DomainAlert, *, created_at: datetime, **columns: Any) -> Alert:
    """The ``alerts`` row of ``alert`` recorded at ``created_at``, with ``columns`` set over it (a status, say)."""
    return Alert(**{**alert_columns(alert, created_at), **columns})


def add_subscription_row(session: Session, *, name: str, url: str = "http://127.0.0.1:9/", secret: str = "") -> int:
    secret = secret or "whsec_ZGV2LXNpZ25pbmctc2VjcmV0LWZvci10ZXN0cw=="
    return add_subscription(session, name=name, url=url, secret=secret, allow_private=True).id


def _alert(created_at: datetime) -> Alert:
    start = created_at.replace(second=0, microsecond=0)
    return alert_row(sample_alert("E1", start=start, key=f"E1:volume_spike:{uuid.uuid4().hex}"), created_at=created_at)


def add_deliveries(
    session: Session, *, subscription_id: int, status: str, created_at: datetime, count: int = 1
) -> list[int]:
    """``count`` deliveries (one alert each) in ``status``, created at ``created_at``; returns their ids."""
    rows = []
    for _ in range(count):
        alert = _alert(created_at)
        session.add(alert)
        session.flush()
        row = WebhookDelivery(
            alert_id=alert.id,
            subscription_id=subscription_id,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            status=status,
            attempts=0 if status == "pending" else 1,
            next_attempt_at=created_at,
            created_at=created_at,
            delivered_at=created_at if status == "delivered" else None,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return [row.id for row in rows]


def add_rollups(
    session: Session, *, first_minute: datetime, minutes: int, entities: tuple[str, ...] = ("E1", "E2")
) -> int:
    """One rollup per entity and minute from ``first_minute`` on; returns how many."""
    for i in range(minutes):
        for entity in entities:
            session.add(
                EntityMinuteStat(
                    entity=entity,
                    minute=first_minute + timedelta(minutes=i),
                    n=3,
                    negative=1,
                    neutral=1,
                    positive=1,
                    score_sum=0.0,
                    score_sq_sum=0.5,
                    mean_score=0.0,
                )
            )
    session.flush()
    return minutes * len(entities)
