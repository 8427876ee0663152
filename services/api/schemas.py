"""API response models: separate from the tables, so the schema can change without breaking clients."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

__all__ = ["AlertOut", "AlertPage", "EntityOut", "ErrorOut", "SeriesOut", "SeriesPoint"]


class AlertOut(BaseModel):
    id: int
    key: str
    entity: str
    detector: str
    severity: str
    window_start: datetime
    window_end: datetime
    observed: float
    expected: float
    score: float
    z: float
    message: str
    evidence: list[dict[str, Any]]
    created_at: datetime


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
