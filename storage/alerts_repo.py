"""Alerts, rollups and the outbox: every SQL the product runs for them, as functions with keyword arguments.

:func:`record_minute` is the alert sink's one transaction: alerts are inserted idempotently (unique alert key,
status open, opened_at = window_end: event time, like resolved_at), each new alert gets an ``opened`` outbox row
per matching subscription, the alerts the minute resolves are marked resolved (open or acknowledged alike) with a
``resolved`` outbox row per matching subscription, and the minute's rollups are upserted. Running it twice for the
same minute changes nothing, which is what makes re-closing a minute after a crash safe.

:func:`acknowledge_alert` is a person's part of the lifecycle: open -> acknowledged (idempotent), never once resolved.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from core.alerts import Alert, AlertEvent, StoredAlert
from core.domain import AlertStatus, DeliveryStatus, DetectorName, Rollup, Severity, as_utc, minute_start
from core.errors import Conflict, NotFound
from core.explain import Explanation
from storage.dialect import insert_for
from storage.models import Alert as AlertRow
from storage.models import EntityMinuteStat, WebhookDelivery, WebhookSubscription

__all__ = [
    "DeliveryOutcome",
    "acknowledge_alert",
    "alert_columns",
    "alert_from_row",
    "claim_due",
    "delivery_counts",
    "entity_series",
    "finish_delivery",
    "get_alert",
    "list_alerts",
    "record_minute",
    "renew_leases",
    "subscription_matches",
]


def _floor(min_severity: str | None) -> Severity:
    """A stored or requested minimum severity; anything unknown lets every alert through, as it always has."""
    try:
        return Severity(min_severity or Severity.INFO)
    except ValueError:
        return Severity.INFO


def subscription_matches(subscription: WebhookSubscription, alert: Alert) -> bool:
    """Filters of a subscription: entities, detectors (None = all) and a minimum severity."""
    if subscription.entities and alert.entity not in subscription.entities:
        return False
    if subscription.detectors and alert.detector not in subscription.detectors:
        return False
    return alert.severity >= _floor(subscription.min_severity)


def record_minute(
    session: Session,
    *,
    alerts: Sequence[Alert],
    rollups: Sequence[Rollup],
    resolved: Sequence[Alert] = (),
    now: datetime | None = None,
) -> list[int]:
    """Insert alerts, resolve ``resolved`` (by key), their outbox rows and the rollups in the caller's transaction;
    returns the ids of the alerts new here (a re-closed minute's are not). An alert that resolves but was never
    recorded is skipped: there is nothing to resolve, nor anybody told it opened."""
    now = now or datetime.now(UTC)
    new_ids: list[int] = []
    subscriptions = (
        list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.enabled)))
        if alerts or resolved
        else []
    )
    for alert in alerts:
        statement = insert_for(session, AlertRow).values(**alert_columns(alert, now))
        statement = statement.on_conflict_do_nothing(index_elements=["alert_key"])
        inserted = session.execute(statement.returning(AlertRow.id)).scalar_one_or_none()
        if inserted is None:
            continue  # already recorded (a re-closed minute): its outbox rows exist too
        new_ids.append(inserted)
        _fan_out(session, inserted, alert, subscriptions, AlertEvent.OPENED, now)
    for alert in resolved:
        changed = session.execute(
            update(AlertRow)
            .where(AlertRow.alert_key == alert.key, AlertRow.status != AlertStatus.RESOLVED.value)
            .values(
                status=AlertStatus.RESOLVED.value,
                resolved_at=alert.resolved_at or now,
                **({"explanation": alert.explanation.model_dump(mode="json")} if alert.explanation else {}),
            )
            .returning(AlertRow.id)
        ).scalar_one_or_none()
        if changed is not None:  # None: unknown, or resolved already (a re-closed minute): its outbox rows exist
            _fan_out(session, changed, alert, subscriptions, AlertEvent.RESOLVED, now)
    if rollups:
        _upsert_rollups(session, rollups)
    return new_ids


def _fan_out(
    session: Session,
    alert_id: int,
    alert: Alert,
    subscriptions: Sequence[WebhookSubscription],
    event: AlertEvent,
    now: datetime,
) -> None:
    """One outbox row announcing ``event`` per subscription whose filters match the alert."""
    rows = [_outbox_row(alert_id, s.id, now, event) for s in subscriptions if subscription_matches(s, alert)]
    if rows:
        session.execute(
            insert_for(session, WebhookDelivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["alert_id", "subscription_id", "event"])
        )


def alert_columns(alert: Alert, now: datetime) -> dict[str, Any]:
    """The ``alerts`` row of an alert newly recorded at ``now`` (plain values: the drivers bind str, not a str
    subclass); the tests build their rows with it too, so a new column is filled in one place."""
    return {
        "alert_key": alert.key,
        "entity": alert.entity,
        "detector": alert.detector,
        "severity": alert.severity.value,
        "window_start": alert.window_start,
        "window_end": alert.window_end,
        "observed": alert.observed,
        "expected": alert.expected,
        "score": alert.score,
        "z": alert.z,
        "message": alert.message,
        "evidence": [item.model_dump(mode="json") for item in alert.evidence],
        "explanation": alert.explanation.model_dump(mode="json") if alert.explanation else None,
        "created_at": now,
        "status": AlertStatus.OPEN.value,
        "opened_at": alert.window_end,  # event time, as resolved_at is: the two compare
    }


def _outbox_row(alert_id: int, subscription_id: int, now: datetime, event: AlertEvent) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "subscription_id": subscription_id,
        "event": event.value,
        "webhook_id": f"msg_{uuid.uuid4().hex}",
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _upsert_rollups(session: Session, rollups: Sequence[Rollup]) -> None:
    rows = [
        {
            "entity": r.entity,
            "minute": minute_start(r.minute),
            "n": r.stats.n,
            "negative": r.stats.negative,
            "neutral": r.stats.neutral,
            "positive": r.stats.positive,
            "score_sum": r.stats.total,
            "score_sq_sum": r.stats.total_sq,
            "mean_score": r.stats.total / r.stats.n if r.stats.n else 0.0,
        }
        for r in rollups
    ]
    statement = insert_for(session, EntityMinuteStat).values(rows)
    columns = ("n", "negative", "neutral", "positive", "score_sum", "score_sq_sum", "mean_score")
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["entity", "minute"], set_={c: statement.excluded[c] for c in columns}
        )
    )


def list_alerts(
    session: Session,
    *,
    entity: str | None = None,
    detector: DetectorName | None = None,
    min_severity: Severity | None = None,
    status: AlertStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AlertRow]:
    """Newest first; ``before_id`` is the keyset cursor (the last id of the previous page)."""
    query: Select[Any] = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
    if entity:
        query = query.where(AlertRow.entity == entity)
    if status:
        query = query.where(AlertRow.status == AlertStatus(status).value)
    if detector:
        query = query.where(AlertRow.detector == DetectorName(detector).value)
    if min_severity:
        query = query.where(AlertRow.severity.in_([s.value for s in Severity.at_least(_floor(min_severity))]))
    if since:
        query = query.where(AlertRow.window_start >= since)
    if until:
        query = query.where(AlertRow.window_start < until)
    if before_id:
        query = query.where(AlertRow.id < before_id)
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
        and_(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now),
        and_(WebhookDelivery.status == DeliveryStatus.SENDING, WebhookDelivery.lease_until < now),
    )
    query = select(WebhookDelivery.id).where(due).order_by(WebhookDelivery.next_attempt_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .values(status=DeliveryStatus.SENDING, lease_until=now + timedelta(seconds=lease_s), lease_owner=owner)
    )
    query_rows = (
        select(WebhookDelivery)
        .where(WebhookDelivery.id.in_(ids))
        .options(joinedload(WebhookDelivery.alert), joinedload(WebhookDelivery.subscription))
    )
    return list(session.scalars(query_rows))


def _held(owner: str, now: datetime) -> Any:
    """The rows whose lease ``owner`` still holds: claimed by it, not finished, not expired."""
    return and_(
        WebhookDelivery.lease_owner == owner,
        WebhookDelivery.status == DeliveryStatus.SENDING,
        WebhookDelivery.lease_until > now,
    )


def renew_leases(session: Session, *, ids: Sequence[int], owner: str, now: datetime, lease_s: float) -> set[int]:
    """Extend ``owner``'s lease on those of ``ids`` it still holds to ``now + lease_s``; returns them. A row not
    returned was finished, or expired and perhaps taken by another dispatcher: its owner must not POST it again."""
    if not ids:
        return set()
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(list(ids)), _held(owner, now))
        .values(lease_until=now + timedelta(seconds=lease_s))
        .returning(WebhookDelivery.id)
    )
    return set(session.scalars(statement))


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt at a delivery leaves on its row: the new status and attempt count, the receiver's answer,
    and the time that goes with the status (delivered_at once delivered, next_attempt_at when pending again)."""

    status: DeliveryStatus
    attempts: int
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    next_attempt_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        """The columns to write: the times only where the status sets them (a retry keeps no delivered_at)."""
        values: dict[str, Any] = {
            "status": self.status.value,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
        }
        if self.delivered_at is not None:
            values["delivered_at"] = self.delivered_at
        if self.next_attempt_at is not None:
            values["next_attempt_at"] = self.next_attempt_at
        return values


def finish_delivery(session: Session, *, delivery_id: int, owner: str, now: datetime, outcome: DeliveryOutcome) -> bool:
    """Record an attempt's outcome and release the lease, only if ``owner`` still holds it. False: the lease was
    lost, and the row belongs to whoever holds it now."""
    statement = (
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, _held(owner, now))
        .values(**outcome.values(), lease_until=None, lease_owner=None)
        .returning(WebhookDelivery.id)
    )
    return session.scalars(statement).first() is not None


def alert_from_row(row: AlertRow) -> StoredAlert:
    """An ``alerts`` row as the domain's alert: what the API lists and the webhooks deliver."""
    return StoredAlert(
        id=row.id,
        key=row.alert_key,
        entity=row.entity,
        detector=DetectorName(row.detector),
        severity=Severity(row.severity),
        window_start=as_utc(row.window_start),
        window_end=as_utc(row.window_end),
        observed=row.observed,
        expected=row.expected,
        score=row.score,
        z=row.z,
        message=row.message,
        evidence=row.evidence,
        explanation=Explanation.model_validate(row.explanation) if row.explanation else None,
        created_at=as_utc(row.created_at),
        status=AlertStatus(row.status),
        opened_at=as_utc(row.opened_at or row.window_end),
        acknowledged_at=as_utc(row.acknowledged_at) if row.acknowledged_at else None,
        acknowledged_by=row.acknowledged_by,
        resolved_at=as_utc(row.resolved_at) if row.resolved_at else None,
    )


def get_alert(session: Session, *, alert_id: int) -> AlertRow | None:
    """One alert by id (None: no such alert), as the database holds it now."""
    query = select(AlertRow).where(AlertRow.id == alert_id).execution_options(populate_existing=True)
    return session.scalars(query).first()


def acknowledge_alert(session: Session, *, alert_id: int, by: str, now: datetime | None = None) -> AlertRow:
    """Mark an open alert acknowledged by ``by``; an acknowledged one stays as it is (the first acknowledgement
    counts), so acknowledging twice is harmless. NotFound for an unknown id, Conflict for a resolved alert."""
    session.execute(
        update(AlertRow)
        .where(AlertRow.id == alert_id, AlertRow.status == AlertStatus.OPEN.value)
        .values(status=AlertStatus.ACKNOWLEDGED.value, acknowledged_at=now or datetime.now(UTC), acknowledged_by=by)
    )
    row = get_alert(session, alert_id=alert_id)
    if row is None:
        raise NotFound(f"no alert with id {alert_id}")
    if row.status == AlertStatus.RESOLVED.value:
        resolved = f" at {as_utc(row.resolved_at).isoformat()}" if row.resolved_at else ""
        raise Conflict(f"alert {alert_id} ({row.alert_key}) is resolved{resolved}: there is nothing to acknowledge")
    return row


def delivery_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
    return {status: count for status, count in rows}
