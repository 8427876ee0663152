"""``radar dispatcher``: delivers the outbox to webhooks, at least once, with the same webhook-id on every try.

Each round leases the due rows (so a dispatcher that dies mid-delivery leaves them to be retried after the lease),
POSTs them with Standard Webhooks headers, and records the outcomes as they come in. Deliveries run in one lane
per subscription with a few in flight each: a receiver that answers 410 Gone gets at most that many requests
before the rest of its lane is cancelled, and one slow receiver cannot take all the slots; each request has one
deadline for the whole exchange, so a slow receiver holds the round for at most ``timeout_s``.

Whatever goes wrong with one delivery stays with it: a subscription's bad URL, secret or DNS name marks its own rows
dead with the reason; any other exception is that delivery's failure, retried with backoff. While the round runs
its lease is renewed, and outcomes are written only while this round still holds the row (see :mod:`.lease`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.alerts import StoredAlert
from core.domain import DeliveryStatus
from core.errors import ConfigError
from services.webhooks.lease import RoundLease
from services.webhooks.payloads import render
from services.webhooks.policy import Outcome, backoff_s, classify
from services.webhooks.sender import MAX_BODY_BYTES, Sender, Undeliverable, signed_headers
from storage.alerts_repo import DeliveryOutcome, alert_from_row, claim_due, finish_delivery, renew_leases
from storage.db import require_current_schema
from storage.models import WebhookDelivery
from storage.outbox_stats import outbox_stats
from storage.secret_box import SecretBox
from storage.subscriptions import disable_subscription

__all__ = ["DELIVERIES", "LATENCY", "LOST", "OLDEST_PENDING", "PENDING", "Attempt", "Dispatcher", "LeasedDelivery"]

log = logging.getLogger("radar.dispatcher")
DELIVERIES = Counter("radar_webhook_attempts_total", "Webhook delivery attempts", ["outcome"])
LATENCY = Histogram("radar_webhook_request_duration_seconds", "Webhook POST latency, the whole exchange")
LOST = Counter("radar_webhook_lease_lost_total", "Deliveries left to another dispatcher: the lease ran out")
PENDING = Gauge("radar_outbox_pending_deliveries", "Webhook deliveries not finished yet (pending or sending)")
OLDEST_PENDING = Gauge(
    "radar_outbox_oldest_pending_seconds", "Age of the oldest unfinished webhook delivery (0 when there is none)"
)


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    subscription_id: int
    attempts: int
    outcome: Outcome  # delivered | retry | disable | dead | cancel | lost (not sent: the lease may have run out)
    status: int | None
    error: str | None


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        sender: Sender | None = None,
        concurrency: int = 32,
        per_subscription: int = 4,
        timeout_s: float = 10.0,
        max_attempts: int = 12,
        batch: int = 200,
        allow_private: bool = False,
        external_url: str = "http://127.0.0.1:8080",
        backoff_base_s: float = 5.0,
        lease_s: float | None = None,
        max_body: int = MAX_BODY_BYTES,
        tick_s: float = 0.2,
        secrets: SecretBox | None = None,
    ) -> None:
        self.sessions = sessions
        self.secrets = secrets or SecretBox([])  # opens sealed signing secrets (RADAR_SECRETS_KEYS)
        self.sender = sender or Sender(timeout_s=timeout_s, max_body=max_body, max_connections=concurrency)
        self.slots = asyncio.Semaphore(concurrency)
        self.per_subscription = per_subscription
        self.max_attempts, self.batch, self.allow_private = max_attempts, batch, allow_private
        self.external_url, self.backoff_base_s = external_url, backoff_base_s
        self.timeout_s = timeout_s
        self.lease_s = lease_s or timeout_s * 3 + 30
        self.margin_s = 0.1 * self.lease_s
        self.renew_every_s = self.lease_s / 4
        self.tick_s = min(tick_s, self.renew_every_s)
        if self.lease_s - self.renew_every_s - self.margin_s <= timeout_s:
            raise ValueError(f"lease_s={self.lease_s} is too short for requests of timeout_s={timeout_s}")
        self.owner = f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._rounds = itertools.count(1)
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
        """One round: lease, deliver (renewing the lease, recording outcomes as they come), record the rest, then
        export the outbox's backlog (:data:`PENDING`, :data:`OLDEST_PENDING`). Returns the number of attempts."""
        if not self._schema_ready:  # on the first round, not at start: the dispatcher waits out a database outage
            await asyncio.to_thread(self._check_schema)  # and a schema behind this release: it never migrates
            self._schema_ready = True
        made = await self._round()
        await asyncio.to_thread(self._report_outbox)
        return made

    async def _round(self) -> int:
        owner, started = f"{self.owner}:{next(self._rounds)}", time.monotonic()
        leased = await asyncio.to_thread(self._lease, owner)
        if not leased:
            return 0
        ids = [item.id for item in leased]
        lease = RoundLease.claimed(owner, ids, lease_s=self.lease_s, margin_s=self.margin_s, started=started)
        done: list[Attempt] = []  # finished, not yet recorded
        lanes: dict[int, list[LeasedDelivery]] = {}
        for item in leased:
            lanes.setdefault(item.subscription_id, []).append(item)
        finished = asyncio.Event()
        keeper = asyncio.create_task(self._keep(lease, done, finished))
        try:
            results = await asyncio.gather(*(self._lane(items, lease, done) for items in lanes.values()))
        finally:
            finished.set()
            await keeper
        await asyncio.to_thread(self._record, lease, self._take(done))  # whatever the keeper had not written
        return sum(a.outcome != Outcome.LOST for lane in results for a in lane)

    async def _keep(self, lease: RoundLease, done: list[Attempt], finished: asyncio.Event) -> None:
        """While the round runs: write finished outcomes every tick, renew the lease every ``renew_every_s``."""
        warned = False
        while not finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), timeout=self.tick_s)
            if finished.is_set():
                return
            batch = self._take(done)
            try:
                if batch:
                    await asyncio.to_thread(self._record, lease, batch)
                if time.monotonic() - lease.renewed_at >= self.renew_every_s:
                    asked, began = lease.to_renew(), time.monotonic()
                    kept = await asyncio.to_thread(self._renew, lease.owner, asked)
                    lease.renewed(asked, kept, started=began)
            except Exception as exc:  # noqa: BLE001 - the database may be away: the lease estimate runs out safely
                done.extend(a for a in batch if a.delivery_id not in lease.recorded)
                (log.debug if warned else log.warning)("recording or renewing the lease failed, will retry: %s", exc)
                warned = True

    @staticmethod
    def _take(done: list[Attempt]) -> list[Attempt]:
        batch = done[:]
        del done[: len(batch)]
        return batch

    async def _lane(self, items: list[LeasedDelivery], lease: RoundLease, done: list[Attempt]) -> list[Attempt]:
        """One subscription's deliveries, ``per_subscription`` at a time; after a 410 the rest are cancelled."""
        lane_slots = asyncio.Semaphore(self.per_subscription)
        gone = asyncio.Event()

        async def one(item: LeasedDelivery) -> Attempt:
            async with lane_slots:
                if gone.is_set():
                    attempt = Attempt(item.id, item.subscription_id, item.attempts, Outcome.CANCEL, None, "410 Gone")
                else:
                    attempt = await self._attempt(item, lease)
                    if attempt.outcome == Outcome.DISABLE:
                        gone.set()
            DELIVERIES.labels(attempt.outcome).inc()
            if attempt.outcome == Outcome.LOST:
                LOST.inc()
            else:
                done.append(attempt)
            return attempt

        return list(await asyncio.gather(*(one(item) for item in items)))

    async def _attempt(self, item: LeasedDelivery, lease: RoundLease) -> Attempt:
        """One delivery; whatever it raises is its own failure (retried with backoff), never the round's."""
        try:
            return await self._deliver(item, lease)
        except Exception as exc:
            log.exception("delivery %s failed unexpectedly", item.id)
            return self._judge(item, None, f"{type(exc).__name__}: {exc}"[:300], permanent=False)

    def _check_schema(self) -> None:
        """StorageError naming `radar db upgrade` while the schema is behind (the round fails and is retried)."""
        require_current_schema(self.sessions.kw["bind"])

    def _report_outbox(self) -> None:
        with self.sessions() as session:
            stats = outbox_stats(session, now=datetime.now(UTC))
        PENDING.set(stats.pending)
        OLDEST_PENDING.set(stats.oldest_pending_s)

    def _lease(self, owner: str) -> list[LeasedDelivery]:
        now = datetime.now(UTC)
        with self.sessions.begin() as session:
            rows = claim_due(session, now=now, limit=self.batch, lease_s=self.lease_s, owner=owner)
            return [LeasedDelivery.of(r, self.secrets) for r in rows]

    def _renew(self, owner: str, ids: list[int]) -> set[int]:
        with self.sessions.begin() as session:
            return renew_leases(session, ids=ids, owner=owner, now=datetime.now(UTC), lease_s=self.lease_s)

    async def _deliver(self, item: LeasedDelivery, lease: RoundLease) -> Attempt:
        tries = item.attempts + 1
        if not item.enabled:
            return Attempt(item.id, item.subscription_id, tries - 1, Outcome.CANCEL, None, "subscription disabled")
        if item.secret_problem:
            return self._judge(item, None, item.secret_problem, permanent=False)
        try:
            body = render(
                item.payload_format,
                item.alert,
                receiver=item.name,
                external_url=self.external_url,
                event=item.event,
            )
            headers = signed_headers(item.url, item.secret, item.webhook_id, int(time.time()), body)
        except Undeliverable as exc:
            return Attempt(item.id, item.subscription_id, tries, Outcome.DEAD, None, exc.reason)
        async with self.slots:
            if not lease.may_start(item.id, self.timeout_s):  # waited too long for a slot: leave it to the next
                return Attempt(item.id, item.subscription_id, item.attempts, Outcome.LOST, None, "lease ran out")
            allow_private = self.allow_private or item.allow_private
            reply = await self.sender.post(
                item.url, body, headers, timeout_s=self.timeout_s, allow_private=allow_private
            )
        LATENCY.observe(reply.elapsed_s)
        return self._judge(item, reply.status, reply.detail, permanent=reply.permanent)

    def _judge(self, item: LeasedDelivery, status: int | None, detail: str, *, permanent: bool) -> Attempt:
        tries = item.attempts + 1
        outcome = Outcome.DEAD if status is None and permanent else classify(status)
        error = None if outcome == Outcome.DELIVERED else detail
        if outcome == Outcome.RETRY and tries >= self.max_attempts:
            outcome, error = Outcome.DEAD, f"gave up after {tries} attempts: {error}"
        return Attempt(item.id, item.subscription_id, tries, outcome, status, error)

    def _record(self, lease: RoundLease, attempts: list[Attempt]) -> None:
        """Write outcomes, each only if this round still holds its row; a row whose lease was lost belongs to the
        dispatcher that took it, and its result (sent, perhaps twice) is that dispatcher's to write."""
        if not attempts:
            return
        now = datetime.now(UTC)
        kept: list[int] = []
        with self.sessions.begin() as session:
            for a in attempts:
                if self._finish(session, a, lease, now, self._outcome(a, now)):
                    kept.append(a.delivery_id)
        lease.recorded.update(kept)
        if len(kept) < len(attempts):
            lost = sorted({a.delivery_id for a in attempts} - set(kept))
            LOST.inc(len(lost))
            log.warning("lease lost on deliveries %s before their outcome was written; left to the new holder", lost)

    def _outcome(self, a: Attempt, now: datetime) -> DeliveryOutcome:
        """An attempt as the row's next state: delivered, pending again after a backoff, cancelled or dead."""
        said = DeliveryOutcome(DeliveryStatus.DEAD, attempts=a.attempts, last_status=a.status, last_error=a.error)
        if a.outcome == Outcome.DELIVERED:
            return replace(said, status=DeliveryStatus.DELIVERED, delivered_at=now)
        if a.outcome == Outcome.RETRY:
            wait = backoff_s(a.attempts - 1, base_s=self.backoff_base_s)
            return replace(said, status=DeliveryStatus.PENDING, next_attempt_at=now + timedelta(seconds=wait))
        if a.outcome in (Outcome.DISABLE, Outcome.CANCEL):
            return replace(said, status=DeliveryStatus.CANCELLED)
        return said

    @staticmethod
    def _finish(session: Session, a: Attempt, lease: RoundLease, now: datetime, outcome: DeliveryOutcome) -> bool:
        """One outcome in a savepoint of its own: a value the database refuses fails that row's write, not the
        round's (the others are kept); the row is then written without the detail, its attempt still counted."""
        try:
            with session.begin_nested():
                if a.outcome == Outcome.DISABLE:  # the receiver said so, whoever holds the row now
                    reason = f"410 Gone from the receiver at {now.isoformat()}"
                    disable_subscription(session, subscription_id=a.subscription_id, reason=reason)
                return finish_delivery(session, delivery_id=a.delivery_id, owner=lease.owner, now=now, outcome=outcome)
        except SQLAlchemyError as exc:
            log.warning(
                "delivery %d: its outcome could not be stored as is (%s); stored without detail",
                a.delivery_id,
                type(exc).__name__,
            )
            detail = f"(the receiver's reply could not be stored: {type(exc).__name__})"
            plain = replace(outcome, last_error=detail)
            with session.begin_nested():
                return finish_delivery(session, delivery_id=a.delivery_id, owner=lease.owner, now=now, outcome=plain)

    async def close(self) -> None:
        await self.sender.close()


@dataclass(frozen=True)
class LeasedDelivery:
    """What a round needs of one leased outbox row, read inside the lease's transaction (the round then runs with
    no session open): the delivery, its alert, and its subscription's target and opened secret."""

    id: int
    webhook_id: str
    attempts: int
    alert: StoredAlert
    event: str  # opened | resolved: what the delivery announces
    subscription_id: int
    url: str
    secret: str
    secret_problem: str | None  # a secret no key opens: that delivery's problem (retried), never the round's
    payload_format: str
    name: str
    allow_private: bool
    enabled: bool

    @classmethod
    def of(cls, row: WebhookDelivery, secrets: SecretBox) -> LeasedDelivery:
        subscription = row.subscription
        try:
            secret, secret_problem = secrets.open(subscription.secret), None
        except ConfigError as exc:
            secret, secret_problem = "", str(exc)
        return cls(
            id=row.id,
            webhook_id=row.webhook_id,
            attempts=row.attempts,
            alert=alert_from_row(row.alert),
            event=row.event,
            subscription_id=row.subscription_id,
            url=subscription.url,
            secret=secret,
            secret_problem=secret_problem,
            payload_format=subscription.payload_format,
            name=subscription.name,
            allow_private=subscription.allow_private,
            enabled=subscription.enabled,
        )
