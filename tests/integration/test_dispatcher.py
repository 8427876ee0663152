"""The dispatcher against a real HTTP receiver on loopback that fails, times out and recovers: every alert
arrives, signatures verify, retries of one delivery share one webhook-id; 410 disables; other 4xx go dead."""

from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import select

from core.webhook_signing import new_secret, verify
from localdev.receiver import Receiver, running_receiver
from services.webhooks.dispatcher import Dispatcher
from storage.alerts_repo import delivery_counts, record_minute
from storage.db import make_engine, make_sessionmaker
from storage.models import WebhookSubscription
from storage.subscriptions import add_subscription
from tests.integration.test_alert_store import MINUTE, _alert
from tests.support.outbox_drain import until_settled

N = 20


def _flaky(i: int) -> str:
    return {0: "500", 1: "500", 2: "timeout", 3: "429", 4: "503", 7: "500", 11: "timeout"}.get(i, "ok")


async def test_every_alert_arrives_signed_once_per_webhook_id(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    flaky, manager, gone, refusing = (
        Receiver(_flaky),
        Receiver(lambda i: "ok"),
        Receiver(lambda i: "410"),
        Receiver(lambda i: "400"),
    )
    secret = new_secret()
    with (
        running_receiver(flaky) as url1,
        running_receiver(manager) as url2,
        running_receiver(gone) as url3,
        running_receiver(refusing) as url4,
    ):
        with sessions.begin() as session:
            for name, url, fmt in (
                ("flaky", url1, "radar"),
                ("manager", url2, "alertmanager"),
                ("gone", url3, "radar"),
                ("refusing", url4, "radar"),
            ):
                add_subscription(session, name=name, url=url, secret=secret, payload_format=fmt, allow_private=True)
            add_subscription(session, name="private", url=url2, secret=secret, entities=["E0"])
        with sessions.begin() as session:
            record_minute(
                session, alerts=[_alert(f"E{i}", "volume_spike", minute=MINUTE + i) for i in range(N)], rollups=[]
            )
        dispatcher = Dispatcher(sessions, timeout_s=0.5, backoff_base_s=0.05, max_attempts=8, concurrency=4)
        await until_settled(sessions, dispatcher, limit_s=60)
        await dispatcher.close()

    # every alert reached the flaky receiver, every delivery verified, one webhook-id per alert
    ok = flaky.delivered()
    assert all(verify(secret, headers, body, check_time=False) for headers, body in ok)
    ids_per_alert: dict[str, set[str]] = {}
    for headers, body in [(h, b) for h, b, _ in flaky.received]:
        key = json.loads(body)["data"]["key"]
        ids_per_alert.setdefault(key, set()).add(headers["webhook-id"])
    assert len(ids_per_alert) == N and all(len(ids) == 1 for ids in ids_per_alert.values())
    assert {json.loads(b)["data"]["key"] for _, b in ok} == set(ids_per_alert)
    assert len(flaky.received) > N  # the failures really happened and were retried

    # Alertmanager format for the second subscription
    bodies = [json.loads(b) for _, b in manager.delivered()]
    assert len(bodies) == N and all(b["version"] == "4" and b["status"] == "firing" for b in bodies)
    assert {b["alerts"][0]["labels"]["entity"] for b in bodies} == {f"E{i}" for i in range(N)}

    # 410 disabled the subscription after at most one lane of requests; 400 went dead without retries
    assert 1 <= len(gone.received) <= dispatcher.per_subscription and len(refusing.received) == N
    with sessions() as session:
        subs = {s.name: s for s in session.scalars(select(WebhookSubscription))}
        assert not subs["gone"].enabled and "410" in subs["gone"].disabled_reason
        counts = delivery_counts(session)
    # flaky + manager delivered; refusing dead (400) + private refused (dead); gone cancelled
    assert counts == {"delivered": 2 * N, "dead": N + 1, "cancelled": N}, counts
    assert Counter(a for _, _, a in flaky.received)["ok"] == N
    engine.dispose()
