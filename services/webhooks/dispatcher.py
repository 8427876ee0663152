"""``radar dispatcher``: delivers the outbox to webhooks, at least once, with the same webhook-id on every try.

Each round leases the due rows (so a dispatcher that dies mid-delivery leaves them to be retried after the lease),
POSTs them with Standard Webhooks headers, and records every outcome in one transaction. Deliveries run in one lane
per subscription with a few in flight each: a receiver that answers 410 Gone gets at most that many requests
before the rest of its lane is cancelled, and one slow receiver cannot take all the slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from prometheus_client import Counter, Histogram
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from services.webhooks.payloads import render
from services.webhooks.policy import backoff_s, classify, private_target
from services.webhooks.signing import signature_headers
from storage.alerts_repo import alert_json, claim_due
from storage.db import upgrade
from storage.models import WebhookDelivery, WebhookSubscription

__all__ = ["Attempt", "Dispatcher"]

log = logging.getLogger("radar.dispatcher")
DELIVERIES = Counter("radar_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])
LATENCY = Histogram("radar_webhook_seconds", "Webhook POST latency")


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    subscription_id: int
    attempts: int
    outcome: str  # delivered | retry | disable | dead
    status: int | None
    error: str | None


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        client: httpx.AsyncClient | None = None,
        concurrency: int = 32,
        per_subscription: int = 4,
        timeout_s: float = 10.0,
        max_attempts: int = 12,
        batch: int = 200,
        allow_private: bool = False,
        external_url: str = "http://127.0.0.1:8080",
        backoff_base_s: float = 5.0,
    ) -> None:
        self.sessions = sessions
        self.client = client or httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self.slots = asyncio.Semaphore(concurrency)
        self.per_subscription = per_subscription
        self.max_attempts, self.batch, self.allow_private = max_attempts, batch, allow_private
        self.external_url, self.backoff_base_s = external_url, backoff_base_s
        self.timeout_s = timeout_s
        self._schema_ready = False

    async def run_forever(self, stop: asyncio.Event, *, idle_s: float = 0.5) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception as exc:  # noqa: BLE001 - the database may be away: try again, never die
                log.warning("dispatch round failed, retrying: %s", exc)
                done = 0
            if not done:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_s)

    async def run_once(self) -> int:
        """One round: lease, deliver, record. Returns the number of attempts made."""
        if not self._schema_ready:  # on the first round, not at start: the dispatcher waits out a database outage
            await asyncio.to_thread(upgrade, self.sessions.kw["bind"])
            self._schema_ready = True
        leased = await asyncio.to_thread(self._lease)
        if not leased:
            return 0
        lanes: dict[int, list[dict[str, Any]]] = {}
        for item in leased:
            lanes.setdefault(item["subscription_id"], []).append(item)
        results = await asyncio.gather(*(self._lane(items) for items in lanes.values()))
        attempts = [attempt for lane in results for attempt in lane]
        await asyncio.to_thread(self._record, attempts)
        return len(attempts)

    async def _lane(self, items: list[dict[str, Any]]) -> list[Attempt]:
        """One subscription's deliveries, ``per_subscription`` at a time; after a 410 the rest are cancelled."""
        lane_slots = asyncio.Semaphore(self.per_subscription)
        gone = asyncio.Event()

        async def one(item: dict[str, Any]) -> Attempt:
            async with lane_slots:
                if gone.is_set():
                    return Attempt(item["id"], item["subscription_id"], item["attempts"], "cancel", None, "410 Gone")
                attempt = await self._deliver(item)
                if attempt.outcome == "disable":
                    gone.set()
                return attempt

        return list(await asyncio.gather(*(one(item) for item in items)))

    def _lease(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            rows = claim_due(session, now=now, limit=self.batch, lease_s=self.timeout_s * 3 + 30)
            return [
                {"id": r.id, "webhook_id": r.webhook_id, "attempts": r.attempts, "alert": alert_json(r.alert),
                 "subscription_id": r.subscription_id, "url": r.subscription.url, "secret": r.subscription.secret,
                 "format": r.subscription.payload_format, "name": r.subscription.name,
                 "allow_private": r.subscription.allow_private, "enabled": r.subscription.enabled}
                for r in rows
            ]  # fmt: skip

    async def _deliver(self, item: dict[str, Any]) -> Attempt:
        tries = item["attempts"] + 1
        if not item["enabled"]:
            return Attempt(item["id"], item["subscription_id"], tries - 1, "cancel", None, "subscription disabled")
        if not (self.allow_private or item["allow_private"]):
            why = await asyncio.to_thread(private_target, item["url"])
            if why:
                return Attempt(item["id"], item["subscription_id"], tries, "dead", None, f"refused: {why}")
        body = render(item["format"], item["alert"], receiver=item["name"], external_url=self.external_url)
        headers = signature_headers(item["secret"], item["webhook_id"], int(time.time()), body)
        async with self.slots:
            started = time.monotonic()
            try:
                response = await self.client.post(item["url"], content=body, headers=headers, timeout=self.timeout_s)
                status, error = response.status_code, None if response.is_success else response.text[:300]
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"[:300]
            LATENCY.observe(time.monotonic() - started)
        outcome = classify(status)
        if outcome == "retry" and tries >= self.max_attempts:
            outcome, error = "dead", f"gave up after {tries} attempts: {error}"
        DELIVERIES.labels(outcome).inc()
        return Attempt(item["id"], item["subscription_id"], tries, outcome, status, error)

    def _record(self, attempts: list[Attempt]) -> None:
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            for a in attempts:
                values: dict[str, Any] = {"attempts": a.attempts, "last_status": a.status, "last_error": a.error,
                                          "lease_until": None}  # fmt: skip
                if a.outcome == "delivered":
                    values |= {"status": "delivered", "delivered_at": now}
                elif a.outcome == "retry":
                    wait = backoff_s(a.attempts - 1, base_s=self.backoff_base_s)
                    values |= {"status": "pending", "next_attempt_at": now + timedelta(seconds=wait)}
                elif a.outcome == "disable":
                    values |= {"status": "cancelled"}
                    self._disable(session, a.subscription_id, f"410 Gone from the receiver at {now.isoformat()}")
                elif a.outcome == "cancel":
                    values |= {"status": "cancelled"}
                else:
                    values |= {"status": "dead"}
                session.execute(update(WebhookDelivery).where(WebhookDelivery.id == a.delivery_id).values(**values))

    @staticmethod
    def _disable(session: Session, subscription_id: int, reason: str) -> None:
        session.execute(
            update(WebhookSubscription).where(WebhookSubscription.id == subscription_id)
            .values(enabled=False, disabled_reason=reason)
        )  # fmt: skip
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.status == "pending")
            .values(status="cancelled", last_error=reason)
        )  # fmt: skip

    async def close(self) -> None:
        await self.client.aclose()
