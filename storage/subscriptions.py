"""Webhook subscriptions: every SQL the command line, the demo and the dispatcher run on them, as functions with
keyword arguments. Callers own the transaction (``with sessions.begin() as session``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.domain import DeliveryStatus, DetectorName
from storage.models import WebhookDelivery, WebhookSubscription

__all__ = [
    "add_subscription",
    "disable_subscription",
    "find_subscription",
    "list_subscriptions",
    "remove_subscription",
]


def find_subscription(session: Session, *, name: str) -> WebhookSubscription | None:
    return session.scalar(select(WebhookSubscription).where(WebhookSubscription.name == name))


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    """Every subscription, enabled or not, by name."""
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.name)))


def add_subscription(
    session: Session,
    *,
    name: str,
    url: str,
    secret: str,
    payload_format: str = "radar",
    entities: Sequence[str] | None = None,
    detectors: Sequence[DetectorName | str] | None = None,
    min_severity: str = "info",
    allow_private: bool = False,
    now: datetime | None = None,
) -> WebhookSubscription:
    """A new, enabled subscription (empty filters mean every entity / detector). The name is unique: a second one
    fails at flush with the database's integrity error; check :func:`find_subscription` first for a clear message."""
    subscription = WebhookSubscription(
        name=name,
        url=url,
        secret=secret,
        payload_format=payload_format,
        entities=list(entities) if entities else None,
        detectors=[DetectorName(d).value for d in detectors] if detectors else None,
        min_severity=str(min_severity),
        allow_private=allow_private,
        enabled=True,
        created_at=now or datetime.now(UTC),
    )
    session.add(subscription)
    session.flush()
    return subscription


def remove_subscription(session: Session, *, name: str) -> bool:
    """Delete the subscription (its outbox rows go with it); False when there was none of that name."""
    result = session.execute(delete(WebhookSubscription).where(WebhookSubscription.name == name))
    return bool(result.rowcount)  # type: ignore[attr-defined]  # a DML result is a CursorResult


def disable_subscription(session: Session, *, subscription_id: int, reason: str) -> None:
    """Disable the subscription and cancel its pending deliveries, both with ``reason`` (a 410 from the receiver)."""
    session.execute(
        update(WebhookSubscription)
        .where(WebhookSubscription.id == subscription_id)
        .values(enabled=False, disabled_reason=reason)
    )
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED, last_error=reason)
    )
