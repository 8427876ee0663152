"""Alerts pushed to Prometheus Alertmanager's API v2 (``POST /api/v2/alerts``), the way Prometheus pushes them.

Alertmanager forgets an alert whose ``endsAt`` has passed, so a firing alert is re-sent every resend interval with
``endsAt`` four intervals ahead: if the dispatcher dies, its alerts expire instead of firing for ever. A resolved
alert is sent with ``endsAt`` = its resolution (never later than now: a replay's event time may run ahead) and
re-sent for ``resolved_for_s`` after the pusher first saw it resolved, so an Alertmanager that missed one push
still learns it. Labels identify the alert (``alertname``, ``entity``, ``detector``, ``severity``; routes group
by ``entity``), annotations carry its explanation (:func:`services.webhooks.payloads.alertmanager_annotations`),
``generatorURL`` links the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.alerts import StoredAlert
from core.domain import AlertStatus
from services.webhooks.payloads import alertmanager_annotations

__all__ = ["AlertmanagerPusher", "alertmanager_alert"]

log = logging.getLogger("radar.alertmanager")
AHEAD = 4  # a firing alert's endsAt, in resend intervals


def alertmanager_alert(alert: StoredAlert, *, now: datetime, resend_s: float, external_url: str) -> dict[str, Any]:
    """One alert in the API v2 ``postableAlert`` form.

    >>> from datetime import UTC, datetime, timedelta
    >>> from core.alerts import Alert
    >>> t = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    >>> a = StoredAlert(**Alert(key="ACME:volume_spike:2026-01-05T10:00Z", entity="ACME", detector="volume_spike",
    ...     window_start=t, window_end=t + timedelta(minutes=1), observed=40, expected=4, score=0.9, z=9.0,
    ...     severity="high", message="ACME: 40 items").model_dump(), id=7, created_at=t, opened_at=t)
    >>> body = alertmanager_alert(a, now=t + timedelta(minutes=2), resend_s=60, external_url="http://radar")
    >>> body["labels"]["entity"], body["endsAt"], body["generatorURL"]
    ('ACME', '2026-01-05T10:06:00+00:00', 'http://radar/#alert=7')
    >>> gone = a.model_copy(update={"status": "resolved", "resolved_at": t + timedelta(minutes=30)})
    >>> alertmanager_alert(gone, now=t + timedelta(minutes=5), resend_s=60, external_url="http://radar")["endsAt"]
    '2026-01-05T10:05:00+00:00'
    """
    summary, description = alertmanager_annotations(alert)
    if alert.status == AlertStatus.RESOLVED:
        ends = min(alert.resolved_at or now, now)
    else:
        ends = now + timedelta(seconds=AHEAD * resend_s)
    return {
        "labels": {
            "alertname": f"radar_{alert.detector}",
            "entity": alert.entity,
            "detector": alert.detector,
            "severity": alert.severity.value,
        },
        "annotations": {"summary": summary, "description": description, "alert_key": alert.key},
        "startsAt": min(alert.window_start, ends).isoformat(),
        "endsAt": ends.isoformat(),
        "generatorURL": f"{external_url}/#alert={alert.id}",
    }


def _current(session: Session, known_resolved: Sequence[str], limit: int = 1000) -> list[StoredAlert]:
    from storage.alerts_repo import alert_from_row
    from storage.models import Alert as AlertRow

    firing = select(AlertRow).where(AlertRow.status != AlertStatus.RESOLVED.value).order_by(AlertRow.id.desc())
    rows = list(session.scalars(firing.limit(limit)))
    if known_resolved:
        rows += session.scalars(
            select(AlertRow).where(AlertRow.alert_key.in_(list(known_resolved)), AlertRow.status == "resolved")
        )
    return [alert_from_row(row) for row in rows]


class AlertmanagerPusher:
    """Push the store's firing alerts (and recent resolutions) to one Alertmanager every ``resend_s``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        url: str,
        *,
        resend_s: float,
        resolved_for_s: float,
        external_url: str,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.sessions, self.url = sessions, url.rstrip("/")
        self.resend_s, self.resolved_for_s, self.external_url = resend_s, resolved_for_s, external_url
        self.client = client or httpx.AsyncClient(timeout=10.0)
        self._firing: set[str] = set()  # keys pushed as firing, not yet seen resolved
        self._resolved_seen: dict[str, float] = {}  # key -> monotonic time the pusher first saw it resolved

    def _due(self, now_mono: float) -> list[StoredAlert]:
        recent = [k for k, seen in self._resolved_seen.items() if now_mono - seen <= self.resolved_for_s]
        with self.sessions() as session:
            alerts = _current(session, sorted(self._firing | set(recent)))
        out = []
        for alert in alerts:
            if alert.status == AlertStatus.RESOLVED:
                seen = self._resolved_seen.setdefault(alert.key, now_mono)
                self._firing.discard(alert.key)
                if now_mono - seen > self.resolved_for_s:
                    continue
            else:
                self._firing.add(alert.key)
            out.append(alert)
        for key in [k for k, seen in self._resolved_seen.items() if now_mono - seen > self.resolved_for_s]:
            del self._resolved_seen[key]
        return out

    async def push_once(self) -> int:
        """One round: every firing alert and every recent resolution; returns how many were sent."""
        alerts = await asyncio.to_thread(self._due, time.monotonic())
        if not alerts:
            return 0
        now = datetime.now(UTC)
        body = [alertmanager_alert(a, now=now, resend_s=self.resend_s, external_url=self.external_url) for a in alerts]
        response = await self.client.post(f"{self.url}/api/v2/alerts", json=body)
        response.raise_for_status()
        return len(body)

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.push_once()
            except (httpx.HTTPError, OSError) as error:  # Alertmanager away: try again next round, never crash
                log.warning("alertmanager push to %s failed: %s", self.url, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.resend_s)

    async def close(self) -> None:
        await self.client.aclose()
