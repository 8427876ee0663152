"""The alert, one type from the detector to the webhook: what ``radar.alerts`` carries, what SQL keeps, what the API
and the webhooks show.

- :class:`Alert` is what detection raises and publishes on ``radar.alerts`` (``alert.model_dump(mode="json")``);
- :class:`StoredAlert` is an alert once the SQL store holds it: the row id, when it was recorded and opened, and
  who acknowledged it when (the rest of its lifecycle, status and resolved_at, the stream publishes too);
- :class:`WebhookPayload` is the body of a ``radar``-format webhook (Standard Webhooks signs it as sent): an
  ``alert.opened`` or ``alert.resolved`` event (:class:`AlertEvent`, one outbox delivery each).

An alert opens when detection raises it and resolves once its detector has stayed normal for the resolve period
(event time); the stream publishes both, the resolution as the same alert with ``status`` resolved and
``resolved_at``. In between, a person may acknowledge it (SQL only: ``radar alerts ack``, the API, the dashboard).

>>> from datetime import UTC, datetime, timedelta
>>> end = datetime(2026, 1, 5, 10, 1, tzinfo=UTC)
>>> alert = Alert(key=alert_key("ACME", "volume_spike", end - timedelta(minutes=1)), entity="ACME",
...               detector="volume_spike", window_start=end - timedelta(minutes=1), window_end=end, observed=40,
...               expected=4, score=0.99, z=9.2, severity="high", message="ACME: 40 items")
>>> alert.key, alert.severity >= "warning", alert.model_dump(mode="json")["window_end"]
('ACME:volume_spike:2026-01-05T10:00Z', True, '2026-01-05T10:01:00+00:00')
>>> done = alert.resolved(end + timedelta(minutes=20)); done.status.value, done.to_json()["resolved_at"]
('resolved', '2026-01-05T10:21:00+00:00')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.domain import AlertStatus, DetectorName, Severity
from core.explain import Explanation
from core.wire import IsoInstant

__all__ = ["Alert", "AlertEvent", "Evidence", "StoredAlert", "WebhookPayload", "alert_key"]

# every field is always written, defaults included: the published JSON Schemas say so
_PUBLISHED = ConfigDict(frozen=True, json_schema_serialization_defaults_required=True)


def alert_key(entity: str, detector: DetectorName | str, window_start: datetime) -> str:
    """An alert's identity: entity + detector + window start, to the minute (one incident, one alert)."""
    return f"{entity}:{DetectorName(detector).value}:{window_start.strftime('%Y-%m-%dT%H:%MZ')}"


class Evidence(BaseModel):
    """One of the events that drove an alert (the most negative of its window): what an analyst reads first."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="the event id")
    text: str = Field(description="the start of its text")
    score: float = Field(description="its signed sentiment")
    source: str | None = Field(default=None, description="the event's source; null in alerts recorded before")
    kind: str | None = Field(default=None, description="news or social; null in alerts recorded before")
    label: str | None = Field(default=None, description="its sentiment label; null in alerts recorded before")


class Alert(BaseModel):
    """An anomaly in one entity's series, raised once per incident (key), as published on radar.alerts."""

    # The docstrings of these models are the published JSON Schemas' descriptions: plain sentences, no markup.

    model_config = _PUBLISHED

    key: str = Field(description="entity:detector:window start (YYYY-MM-DDTHH:MMZ); unique")
    entity: str
    detector: DetectorName = Field(description="the detector that raised it")
    window_start: IsoInstant
    window_end: IsoInstant
    observed: float
    expected: float
    score: float = Field(description="how unusual, in [0, 1]")
    z: float = Field(description="how many baseline scales the reading stands out")
    severity: Severity
    message: str = Field(description="one sentence a person can act on")
    evidence: list[Evidence] = Field(default_factory=list)
    explanation: Explanation | None = Field(
        default=None,
        description="what the alert is about, from its texts: computed when it opens, again when it resolves",
    )
    status: AlertStatus = Field(
        default=AlertStatus.OPEN, description="open when raised, resolved once its detector has stayed normal"
    )
    resolved_at: IsoInstant | None = Field(
        default=None, description="when it resolved (event time: the end of the minute that resolved it); or null"
    )

    def with_evidence(self, items: Iterable[Evidence | Mapping[str, Any]]) -> Alert:
        """The same alert carrying the events that drove it (detection raises it without; the closer adds them)."""
        return self.model_copy(update={"evidence": [Evidence.model_validate(item) for item in items]})

    def with_explanation(self, explanation: Explanation | None) -> Alert:
        return self.model_copy(update={"explanation": explanation})

    def resolved(self, at: datetime) -> Alert:
        """The same alert, resolved at ``at`` (event time): what the stream publishes when its episode is over."""
        return self.model_copy(update={"status": AlertStatus.RESOLVED, "resolved_at": at})

    def to_json(self) -> dict[str, Any]:
        """The JSON object published on ``radar.alerts``."""
        return self.model_dump(mode="json")


class StoredAlert(Alert):
    """An alert as the SQL store holds it: what the API lists and the webhooks deliver."""

    id: int = Field(description="the row id; the API pages by it")
    created_at: IsoInstant = Field(description="when the alert was recorded")
    opened_at: IsoInstant | None = Field(
        default=None, description="when it opened, in event time (the end of its window)"
    )
    acknowledged_at: IsoInstant | None = Field(default=None, description="when a person acknowledged it; or null")
    acknowledged_by: str | None = Field(default=None, description="who acknowledged it; or null")


class AlertEvent(StrEnum):
    """What a webhook delivery announces: the alert opened, or it resolved (one outbox row each)."""

    OPENED = "opened"
    RESOLVED = "resolved"

    @property
    def webhook_type(self) -> Literal["alert.opened", "alert.resolved"]:
        return "alert.resolved" if self is AlertEvent.RESOLVED else "alert.opened"


class WebhookPayload(BaseModel):
    """The body of a radar-format webhook (the Standard Webhooks headers sign it as sent)."""

    model_config = _PUBLISHED

    type: Literal["alert.opened", "alert.resolved"] = Field(description="the event: the alert opened or resolved")
    timestamp: IsoInstant = Field(
        description="when the event happened: the alert's created_at when it opened, its resolved_at when it resolved"
    )
    data: StoredAlert = Field(description="the alert as the store holds it when the delivery is sent")

    @classmethod
    def of(cls, event: AlertEvent, alert: StoredAlert) -> WebhookPayload:
        """The payload announcing ``event`` of ``alert`` (a resolution without resolved_at is stamped created_at)."""
        resolved_at = alert.resolved_at if event is AlertEvent.RESOLVED else None
        return cls(type=event.webhook_type, timestamp=resolved_at or alert.created_at, data=alert)
