"""The two payload formats a subscription can choose: ours, or Prometheus Alertmanager's webhook format (so an
existing Alertmanager receiver -- a chat bridge, an incident tool -- works unchanged).

Ours is :class:`core.alerts.WebhookPayload` (its JSON Schema is ``docs/schemas/webhook_payload.json``);
Alertmanager's is theirs, built here from the same alert.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.alerts import StoredAlert, WebhookPayload

__all__ = ["alertmanager_payload", "radar_payload", "render"]


def radar_payload(alert: StoredAlert) -> WebhookPayload:
    return WebhookPayload.raised(alert)


def alertmanager_payload(alert: StoredAlert, *, receiver: str, external_url: str) -> dict[str, Any]:
    labels = {
        "alertname": f"radar_{alert.detector}",
        "entity": alert.entity,
        "detector": alert.detector,
        "severity": alert.severity.value,
    }
    description = f"observed {alert.observed:.3g}, expected {alert.expected:.3g}, score {alert.score:.2f}"
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels["alertname"]}", entity="{alert.entity}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": receiver,
        "groupLabels": {"alertname": labels["alertname"], "entity": alert.entity},
        "commonLabels": labels,
        "commonAnnotations": {"summary": alert.message},
        "externalURL": external_url,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": alert.message, "description": description},
                "startsAt": alert.window_start.isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"{external_url}/?entity={alert.entity}",
                "fingerprint": hashlib.sha256(alert.key.encode()).hexdigest()[:16],
            }
        ],
    }


def render(payload_format: str, alert: StoredAlert, *, receiver: str, external_url: str) -> bytes:
    """The exact body that is signed and sent (compact JSON, stable key order)."""
    payload = (
        alertmanager_payload(alert, receiver=receiver, external_url=external_url)
        if payload_format == "alertmanager"
        else radar_payload(alert).model_dump(mode="json")
    )
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
