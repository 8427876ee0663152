"""The two payload formats a subscription can choose: ours, or Prometheus Alertmanager's webhook format (so an
existing Alertmanager receiver -- a chat bridge, an incident tool -- works unchanged)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

__all__ = ["alertmanager_payload", "radar_payload", "render"]


def radar_payload(alert: dict[str, Any]) -> dict[str, Any]:
    return {"type": "alert.raised", "timestamp": alert["created_at"], "data": alert}


def alertmanager_payload(alert: dict[str, Any], *, receiver: str, external_url: str) -> dict[str, Any]:
    labels = {"alertname": f"radar_{alert['detector']}", "entity": alert["entity"], "detector": alert["detector"],
              "severity": alert["severity"]}  # fmt: skip
    fingerprint = hashlib.sha256(alert["key"].encode()).hexdigest()[:16]
    return {
        "version": "4",
        "groupKey": f"{{}}:{{alertname=\"{labels['alertname']}\", entity=\"{alert['entity']}\"}}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": receiver,
        "groupLabels": {"alertname": labels["alertname"], "entity": alert["entity"]},
        "commonLabels": labels,
        "commonAnnotations": {"summary": alert["message"]},
        "externalURL": external_url,
        "alerts": [{
            "status": "firing",
            "labels": labels,
            "annotations": {"summary": alert["message"],
                            "description": f"observed {alert['observed']:.3g}, expected {alert['expected']:.3g}, "
                                           f"score {alert['score']:.2f}"},
            "startsAt": alert["window_start"],
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"{external_url}/?entity={alert['entity']}",
            "fingerprint": fingerprint,
        }],
    }  # fmt: skip


def render(payload_format: str, alert: dict[str, Any], *, receiver: str, external_url: str) -> bytes:
    """The exact body that is signed and sent (compact JSON, stable key order)."""
    payload = (
        alertmanager_payload(alert, receiver=receiver, external_url=external_url)
        if payload_format == "alertmanager"
        else radar_payload(alert)
    )
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=_iso).encode()


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)
