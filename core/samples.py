"""One sample alert for everything that needs an alert nobody raised: ``radar webhooks test``, the dispatcher bench
and the tests.

They used to build their own, each spelling out every field; one function means a field added to
:class:`core.alerts.Alert` is filled in one place, and a reader sees only what a test really varies.

>>> alert = sample_alert("GLBX", severity=Severity.CRITICAL)
>>> alert.key, alert.message, alert.severity.value, alert.window_end - alert.window_start
('GLBX:volume_spike:2026-01-05T10:00Z', 'GLBX: 40 items', 'critical', datetime.timedelta(seconds=60))
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.alerts import Alert, alert_key
from core.domain import DetectorName, Severity

__all__ = ["SAMPLE_START", "sample_alert"]

SAMPLE_START = datetime(2026, 1, 5, 10, tzinfo=UTC)  # the window start of a sample alert unless told another


def sample_alert(
    entity: str = "ACME",
    detector: DetectorName = DetectorName.VOLUME_SPIKE,
    *,
    start: datetime = SAMPLE_START,
    **overrides: Any,
) -> Alert:
    """An open volume spike of ``entity`` (40 items where 4 were expected) in the minute from ``start``; any other
    field of :class:`core.alerts.Alert` is given in ``overrides`` (the key follows entity, detector and start)."""
    fields: dict[str, Any] = {
        "key": alert_key(entity, detector, start),
        "entity": entity,
        "detector": detector,
        "window_start": start,
        "window_end": start + timedelta(minutes=1),
        "observed": 40.0,
        "expected": 4.0,
        "score": 0.94,
        "z": 9.2,
        "severity": Severity.HIGH,
        "message": f"{entity}: 40 items",
    }
    return Alert(**{**fields, **overrides})
