"""Alerts, rollups and the outbox: every SQL the product runs for them, as functions with keyword arguments.

:func:`record_minute` is the alert sink's one transaction: alerts are inserted idempotently (unique alert key),
each new alert gets an outbox row per matching subscription, and the minute's rollups are upserted. Running it
twice for the same minute changes nothing, which is what makes re-closing a minute after a crash safe.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload

from core.domain import Rollup, minute_start
from storage.models import Alert, EntityMinuteStat, WebhookDelivery, WebhookSubscription

__all__ = [
    "SEVERITY_RANK",
    "alert_json",
    "claim_due",
    "delivery_counts",
    "entity_series",
    "finish_delivery",
    "list_alerts",
    "record_minute",
    "renew_leases",
    "subscription_matches",
]

SEVERITY_RANK = {"info": 0, "warning": 1, "high": 2, "critical": 3}


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def subscription_matches(subscription: WebhookSubscription, alert: dict[str, Any]) -> bool:
    """Filters of a subscription: entities, detectors (None = all) and a minimum severity."""
    if subscription.entities and alert["entity"] not in subscription.entities:
        return False
    if subscription.detectors and alert["detector"] not in subscription.detectors:
        return False
    return SEVERITY_RANK.get(alert["severity"], 0) >= SEVERITY_RANK.get(subscription.min_severity, 0)


def record_minute(
    session: Session, *, alerts: Sequence[dict[str, Any]], rollups: Sequence[Rollup], now: datetime | None = None
) -> list[int]:
    """Insert alerts, their outbox rows and the rollups in the caller's transaction; returns new alert ids."""
    now = now or datetime.now(UTC)
    new_ids: list[int] = []
    subscriptions = (
        list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.enabled))) if alerts else []
    )
    for alert in alerts:
        values = {
            "alert_key": alert["key"], "entity": alert["entity"], "detector": alert["detector"],
            "severity": alert["severity"], "window_start": datetime.fromisoformat(alert["window_start"]),
            "window_end": datetime.fromisoformat(alert["window_end"]), "observed": alert["observed"],
            "expected": alert["expected"], "score": alert["score"], "z": alert["z"], "message": alert["message"],
            "evidence": alert.get("evidence", []), "created_at": now,
        }  # fmt: skip
        statement = _insert(session, Alert).values(**values).on_conflict_do_nothing(index_elements=["alert_key"])
        inserted = session.execute(statement.returning(Alert.id)).scalar_one_or_none()
        if inserted is None:
            continue  # already recorded (a re-closed minute): its outbox rows exist too
        new_ids.append(inserted)
        rows = [
            {"alert_id": inserted, "subscription_id": s.id, "webhook_id": f"msg_{uuid.uuid4().hex}",
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for s in subscriptions if subscription_matches(s, alert)
        ]  # fmt: skip
        if rows:
            session.execute(
                _insert(session, WebhookDelivery)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["alert_id", "subscription_id"])
            )
    if rollups:
        rows_out = [
            {"entity": r.entity, "minute": minute_start(r.minute), "n": r.stats.n, "negative": r.stats.negative,
             "neutral": r.stats.neutral, "positive": r.stats.positive, "score_sum": r.stats.total,
             "score_sq_sum": r.stats.total_sq, "mean_score": r.stats.total / r.stats.n if r.stats.n else 0.0}
            for r in rollups
        ]  # fmt: skip
        statement = _insert(session, EntityMinuteStat).values(rows_out)
        columns = ("n", "negative", "neutral", "positive", "score_sum", "score_sq_sum", "mean_score")
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["entity", "minute"], set_={c: statement.excluded[c] for c in columns}
            )
        )
    return new_ids


def list_alerts(
    session: Session,
    *,
    entity: str | None = None,
    detector: str | None = None,
    min_severity: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Alert]:
    """Newest first; ``before_id`` is the keyset cursor (the last id of the previous page)."""
    query: Select[Any] = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if entity:
        query = query.where(Alert.entity == entity)
    if detector:
        query = query.where(Alert.detector == detector)
    if min_severity:
        allowed = [s for s, rank in SEVERITY_RANK.items() if rank >= SEVERITY_RANK.get(min_severity, 0)]
        query = query.where(Alert.severity.in_(allowed))
    if since:
        query = query.where(Alert.window_start >= since)
    if until:
        query = query.where(Alert.window_start < until)
    if before_id:
        query = query.where(Alert.id < before_id)
    return list(session.scalars(query))


def entity_series(
    session: Session, *, entity: str, since: datetime | None = None, until: datetime | None = None, limit: int = 1440
) -> list[EntityMinuteStat]:
    """Per-minute rollups of one entity, oldest first (the last ``limit`` minutes of the range)."""
    query = select(EntityMinuteStat).where(EntityMinuteStat.entity == entity)
    if since:
        query = query.where(EntityMinuteStat.minute >= since)
    if until:
        query = query.where(EntityMinuteStat.minute < until)
    rows = list(session.scalars(query.order_by(EntityMinuteStat.minute.desc()).limit(limit)))
    return rows[::-1]


def claim_due(
    session: Session, *, now: datetime, limit: int = 100, lease_s: float = 60.0, owner: str | None = None
) -> list[WebhookDelivery]:
    """Lease up to ``limit`` deliveries that are due (pending, or sending with an expired lease: a dispatcher
    that died mid-delivery) to ``owner``. Several dispatchers can run: PostgreSQL skips rows another one has locked,
    and only the owner of a live lease may renew it (:func:`renew_leases`) or record the outcome
    (:func:`finish_delivery`)."""
    due = or_(
        and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == "sending", WebhookDelivery.lease_until < now),
    )
    query = select(WebhookDelivery.id).where(due).order_by(WebhookDelivery.next_attempt_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
        .values(status="sending", lease_until=now + timedelta(seconds=lease_s), lease_owner=owner)
    )  # fmt: skip
    query_rows = (
        select(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
        .options(joinedload(WebhookDelivery.alert), joinedload(WebhookDelivery.subscription))
    )  # fmt: skip
    return list(session.scalars(query_rows))


def _held(owner: str, now: datetime) -> Any:
    """The rows whose lease ``owner`` still holds: claimed by it, not finished, not expired."""
    return and_(
        WebhookDelivery.lease_owner == owner, WebhookDelivery.status == "sending", WebhookDelivery.lease_until > now
    )


def renew_leases(session: Session, *, ids: Sequence[int], owner: str, now: datetime, lease_s: float) -> set[int]:
    """Extend ``owner``'s lease on those of ``ids`` it still holds to ``now + lease_s``; returns them. A row not
    returned was finished, or expired and perhaps taken by another dispatcher: its owner must not POST it again."""
    if not ids:
        return set()
    statement = (
        update(WebhookDelivery).where(WebhookDelivery.id.in_(list(ids)), _held(owner, now))
        .values(lease_until=now + timedelta(seconds=lease_s)).returning(WebhookDelivery.id)
    )  # fmt: skip
    return set(session.scalars(statement))


def finish_delivery(session: Session, *, delivery_id: int, owner: str, now: datetime, values: dict[str, Any]) -> bool:
    """Record an attempt's outcome (``values``: status, attempts, ...) and release the lease, only if ``owner``
    still holds it. False: the lease was lost, and the row belongs to whoever holds it now."""
    statement = (
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, _held(owner, now))
        .values(**values, lease_until=None, lease_owner=None).returning(WebhookDelivery.id)
    )  # fmt: skip
    return session.scalars(statement).first() is not None


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as the API and webhooks show it."""
    return {
        "id": alert.id, "key": alert.alert_key, "entity": alert.entity, "detector": alert.detector,
        "severity": alert.severity, "window_start": _utc(alert.window_start).isoformat(),
        "window_end": _utc(alert.window_end).isoformat(), "observed": alert.observed, "expected": alert.expected,
        "score": alert.score, "z": alert.z, "message": alert.message, "evidence": alert.evidence,
        "created_at": _utc(alert.created_at).isoformat(),
    }  # fmt: skip


def _utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def delivery_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
    return {status: count for status, count in rows}
