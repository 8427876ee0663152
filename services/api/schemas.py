"""API response models: separate from the tables, so the schema can change without breaking clients."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.alerts import StoredAlert

__all__ = ["PRINTABLE", "AckIn", "AlertOut", "AlertPage", "EntityOut", "ErrorOut", "SeriesOut", "SeriesPoint"]

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (NUL above all)


class AlertOut(StoredAlert):
    """An alert as the SQL store holds it, the same as a webhook's data; instants are written as ...T10:00:00Z."""

    # The instants are re-declared only to keep the answer the API has always given, pydantic's form (Z), where the
    # published records (radar.alerts, webhooks) write +00:00. The docstring is the OpenAPI description.
    window_start: datetime
    window_end: datetime
    created_at: datetime
    opened_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None

    @classmethod
    def of(cls, alert: StoredAlert) -> AlertOut:
        return cls.model_validate(alert, from_attributes=True)


class AckIn(BaseModel):
    """Who acknowledges the alert (optional: "api" when the body is left out)."""

    # pydantic refuses a lone surrogate (JSON "\\ud800") as no valid string: 422, never stored
    by: str = Field(default="api", min_length=1, max_length=128, pattern=PRINTABLE, description="a name or handle")


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_before_id: int | None  # pass as before_id for the next (older) page


class SeriesPoint(BaseModel):
    minute: datetime
    n: int
    negative: int
    neutral: int
    positive: int
    mean_score: float


class SeriesOut(BaseModel):
    entity: str
    points: list[SeriesPoint]
    alerts: list[AlertOut]


class EntityOut(BaseModel):
    entity: str
    last_minute: datetime
    items_24h: int
    alerts_24h: int


class ErrorOut(BaseModel):
    """Every refusal that is not a per-record report (401, 403, 413, 503): one sentence a person can act on."""

    detail: str
