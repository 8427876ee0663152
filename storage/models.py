"""SQLAlchemy 2.0 tables. Alembic reads this metadata; the API has its own schemas (services/api/schemas.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.domain import DeliveryStatus

__all__ = [
    "Alert",
    "Base",
    "EntityMinuteStat",
    "WatchedEntity",
    "WatchlistState",
    "WebhookDelivery",
    "WebhookSubscription",
]


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[Any]: JSON}


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_key: Mapped[str] = mapped_column(String(255), unique=True)  # entity + detector + window start
    entity: Mapped[str] = mapped_column(String(64), index=True)
    detector: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    observed: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    z: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)  # ids, snippets and scores of driving events
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # core.explain (migration 0005)
    created_at: Mapped[datetime]
    # lifecycle (migration 0003): open -> acknowledged -> resolved, or open -> resolved
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open", index=True)
    opened_at: Mapped[datetime | None] = mapped_column(nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __table_args__ = (Index("ix_alerts_window_start", "window_start"),)


class EntityMinuteStat(Base):
    """Per-entity, per-minute rollups written when a minute closes (the dashboards' time series)."""

    __tablename__ = "entity_minute_stats"

    entity: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[datetime] = mapped_column(primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    negative: Mapped[int] = mapped_column(Integer)
    neutral: Mapped[int] = mapped_column(Integer)
    positive: Mapped[int] = mapped_column(Integer)
    score_sum: Mapped[float] = mapped_column(Float)
    score_sq_sum: Mapped[float] = mapped_column(Float)
    mean_score: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_entity_minute_stats_minute", "minute"),)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(255))  # whsec_<base64>, the Standard Webhooks form
    payload_format: Mapped[str] = mapped_column(String(16), default="radar")  # radar | alertmanager
    entities: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # None: every entity
    detectors: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    min_severity: Mapped[str] = mapped_column(String(16), default="info")
    allow_private: Mapped[bool] = mapped_column(default=False)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime]

    deliveries: Mapped[list[WebhookDelivery]] = relationship(back_populates="subscription")


class WebhookDelivery(Base):
    """The outbox: one row per (alert, subscription), written in the alert's transaction."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)  # the webhook-id header, same on every retry
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)  # core.domain.DeliveryStatus
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the dispatcher round holding it
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    event: Mapped[str] = mapped_column(String(16), default="opened", server_default="opened")  # opened | resolved

    subscription: Mapped[WebhookSubscription] = relationship(back_populates="deliveries")
    alert: Mapped[Alert] = relationship()

    __table_args__ = (
        UniqueConstraint("alert_id", "subscription_id", "event", name="uq_delivery_alert_subscription_event"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
    )


class WatchedEntity(Base):
    """An entity analysts watch (migration 0004): seeded once from deploy/watchlist.toml, then managed at run time."""

    __tablename__ = "watched_entities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the aggregation key
    names: Mapped[list[Any]] = mapped_column(JSON)  # the first is the display name
    aliases: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cashtags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    min_severity: Mapped[str] = mapped_column(String(16), default="info", server_default="info")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WatchlistState(Base):
    """Small facts about the watchlist (e.g. that the TOML seed ran), one row per name."""

    __tablename__ = "watchlist_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime]


class ClosingProgress(Base):
    """The last epoch minute closed per Redis prefix (migration 0007), written with that minute's rollups: what a
    Redis that lost its state resumes from (stream.closer)."""

    __tablename__ = "closing_progress"

    prefix: Mapped[str] = mapped_column(String(128), primary_key=True)
    closed_through: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
