"""The two payload formats a subscription can choose: ours, or Prometheus Alertmanager's webhook format (so an
existing Alertmanager receiver -- a chat bridge, an incident tool -- works unchanged).

Ours is :class:`core.alerts.WebhookPayload` (its JSON Schema is ``docs/schemas/webhook_payload.json``), typed
``alert.opened`` or ``alert.resolved``; Alertmanager's is theirs, built here from the same alert: ``firing`` with a
zero ``endsAt`` when it opened, ``resolved`` with ``endsAt`` = resolved_at when it resolved. Each outbox delivery
announces one event (its ``event`` column), rendered from the alert as the store holds it when it is sent.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from core.alerts import AlertEvent, StoredAlert, WebhookPayload

__all__ = ["alertmanager_annotations", "alertmanager_payload", "radar_payload", "render"]

_NOT_ENDED = "0001-01-01T00:00:00Z"  # Alertmanager's zero time: a firing alert has no end yet


def radar_payload(alert: StoredAlert, event: AlertEvent = AlertEvent.OPENED) -> WebhookPayload:
    return WebhookPayload.of(event, alert)


def alertmanager_annotations(alert: StoredAlert) -> tuple[str, str]:
    """Alertmanager's ``summary`` and ``description``: the explanation's sentence and what it found (key phrases,
    the texts most said with their copies), after the detector's figures; the message alone for an alert without
    one (recorded before explanations)."""
    figures = f"observed {alert.observed:.3g}, expected {alert.expected:.3g}, score {alert.score:.2f}"
    explanation = alert.explanation
    if explanation is None:
        return alert.message, figures
    lines = [alert.message, figures]
    if explanation.key_phrases:
        lines.append(
            "key phrases: " + ", ".join(f"{k.phrase} (x{k.ratio:g} usual)" for k in explanation.key_phrases[:5])
        )
    lines += [f"{r.copies} x {r.sources} sources: {r.text}" for r in explanation.representatives[:3]]
    return explanation.summary, "\n".join(lines)


def alertmanager_payload(
    alert: StoredAlert, *, receiver: str, external_url: str, event: AlertEvent = AlertEvent.OPENED
) -> dict[str, Any]:
    labels = {
        "alertname": f"radar_{alert.detector}",
        "entity": alert.entity,
        "detector": alert.detector,
        "severity": alert.severity.value,
    }
    summary, description = alertmanager_annotations(alert)
    resolved = event is AlertEvent.RESOLVED
    status = "resolved" if resolved else "firing"
    ends_at = (alert.resolved_at or alert.window_end).isoformat() if resolved else _NOT_ENDED
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels["alertname"]}", entity="{alert.entity}"}}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": labels["alertname"], "entity": alert.entity},
        "commonLabels": labels,
        "commonAnnotations": {"summary": summary},
        "externalURL": external_url,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": summary, "description": description},
                "startsAt": alert.window_start.isoformat(),
                "endsAt": ends_at,
                "generatorURL": f"{external_url}/?entity={alert.entity}",
                "fingerprint": hashlib.sha256(alert.key.encode()).hexdigest()[:16],
            }
        ],
    }


def render(
    payload_format: str,
    alert: StoredAlert,
    *,
    receiver: str,
    external_url: str,
    event: AlertEvent | str = AlertEvent.OPENED,
) -> bytes:
    """The exact body that is signed and sent (compact JSON, stable key order) announcing ``event`` of ``alert``."""
    event = AlertEvent(event)
    payload = (
        alertmanager_payload(alert, receiver=receiver, external_url=external_url, event=event)
        if payload_format == "alertmanager"
        else radar_payload(alert, event).model_dump(mode="json")
    )
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
