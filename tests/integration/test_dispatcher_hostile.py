"""No webhook target can abuse the dispatcher (issue 14), on the stack's PostgreSQL with real HTTP receivers on
loopback: bad subscriptions fail only their own deliveries, two dispatchers deliver each alert exactly once, a
round that outlasts its lease is not delivered twice, a slow or endless answer is cut at the deadline or the cap,
and ``webhooks add`` / ``webhooks test`` apply the same rules.

``uv run pytest -q -s tests/integration/test_dispatcher_hostile.py`` prints the figures (lines starting FIGURE).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from core.domain import DeliveryStatus
from core.settings import Settings
from core.webhook_signing import new_secret
from localdev.databases import fresh_postgres
from localdev.receiver import Receiver, running_receiver
from services.cli.webhooks import webhooks_app
from services.webhooks.dispatcher import Dispatcher
from services.webhooks.sender import Sender
from storage.alerts_repo import (
    DeliveryOutcome,
    claim_due,
    delivery_counts,
    finish_delivery,
    record_minute,
    renew_leases,
)
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.models import WebhookDelivery, WebhookSubscription
from storage.subscriptions import add_subscription
from tests.integration.test_alert_store import MINUTE, _alert
from tests.support.outbox_drain import until_settled


@pytest.fixture
def pg_sessions(stack: Settings, unique: str) -> Iterator[sessionmaker[Session]]:
    """A fresh, migrated PostgreSQL database on the stack (two dispatchers need its row locks)."""
    with fresh_postgres(stack.postgres_url, f"radar_t{unique}") as url:
        engine = make_engine(url)
        yield make_sessionmaker(engine)
        engine.dispose()


def _subscribe(
    sessions: sessionmaker[Session], name: str, url: str, secret: str, *, allow_private: bool = True
) -> None:
    with sessions.begin() as session:
        add_subscription(session, name=name, url=url, secret=secret, allow_private=allow_private)


def _raise_alerts(sessions: sessionmaker[Session], n: int) -> None:
    with sessions.begin() as session:
        record_minute(
            session, alerts=[_alert(f"E{i}", "volume_spike", minute=MINUTE + i) for i in range(n)], rollups=[]
        )


def _rows(sessions: sessionmaker[Session]) -> list[tuple[str, str, str | None]]:
    """(subscription, status, last_error) of every outbox row."""
    with sessions() as session:
        rows = session.execute(
            select(WebhookSubscription.name, WebhookDelivery.status, WebhookDelivery.last_error).join(
                WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id
            )
        )
        return [(name, status, error) for name, status, error in rows]


def _ids_per_alert(receiver: Receiver) -> dict[str, Counter[str]]:
    """alert key -> how many requests carried each webhook-id."""
    seen: dict[str, Counter[str]] = {}
    for headers, body, _ in receiver.received:
        seen.setdefault(json.loads(body)["data"]["key"], Counter())[headers["webhook-id"]] += 1
    return seen


def test_two_dispatchers_isolate_bad_subscriptions_and_deliver_each_alert_once(
    pg_sessions: sessionmaker[Session],
) -> None:
    n, secret = 30, new_secret()
    fast, slow, trap = Receiver(secret=secret), Receiver(secret=secret, delay_s=0.3), Receiver()
    with running_receiver(fast) as fast_url, running_receiver(slow) as slow_url, running_receiver(trap) as trap_url:
        _subscribe(pg_sessions, "fast", fast_url, secret)
        _subscribe(pg_sessions, "slow", slow_url, secret)
        _subscribe(pg_sessions, "bad-secret", trap_url, "whsec_abc")  # what `webhooks add --secret` used to accept
        _subscribe(pg_sessions, "bad-dns", "http://no-such-host.invalid:9/hook", secret)
        _subscribe(pg_sessions, "bad-idna", "http://a..b.example/hook", secret)
        _subscribe(pg_sessions, "bad-scheme", trap_url.replace("http://", "ftp://"), secret)
        _subscribe(pg_sessions, "metadata", "http://169.254.169.254/latest/meta-data/", secret, allow_private=False)
        _subscribe(pg_sessions, "cgnat", "http://100.100.100.200/latest/meta-data/", secret, allow_private=False)
        _subscribe(pg_sessions, "explodes", trap_url + "?explode", secret)
        _raise_alerts(pg_sessions, n)

        def dispatcher() -> Dispatcher:
            d = Dispatcher(
                pg_sessions,
                timeout_s=1.0,
                lease_s=2.0,
                batch=25,
                per_subscription=3,
                concurrency=8,
                backoff_base_s=0.02,
                max_attempts=3,
            )
            post = d.sender.post

            async def post_or_explode(url: str, *args: Any, **kwargs: Any) -> Any:
                if url.endswith("?explode"):  # an exception type nobody planned for, inside one delivery
                    raise RuntimeError("boom")
                return await post(url, *args, **kwargs)

            d.sender.post = post_or_explode  # type: ignore[method-assign]
            return d

        a, b = dispatcher(), dispatcher()

        async def run() -> list[int]:
            try:
                return await until_settled(pg_sessions, a, b)
            finally:
                await a.close()
                await b.close()

        started = time.monotonic()
        made = asyncio.run(run())
        seconds = time.monotonic() - started

    for good in (fast, slow):
        per_alert = _ids_per_alert(good)
        assert len(per_alert) == n, len(per_alert)
        assert all(list(ids.values()) == [1] for ids in per_alert.values()), per_alert  # one id, sent once
        assert all(good.verified)
    assert trap.received == []  # nothing signed with a broken key, nothing to ftp://, nothing that exploded
    assert all(made), made  # both dispatchers really worked

    rows = _rows(pg_sessions)
    assert not [r for r in rows if r[1] in ("pending", "sending")]
    status = Counter((name, st) for name, st, _ in rows)
    assert status[("fast", "delivered")] == status[("slow", "delivered")] == n
    reasons = {name: {e for nm, _, e in rows if nm == name} for name, _, _ in rows}
    expect = {
        "bad-secret": "invalid signing secret: not base64",
        "bad-dns": "DNS lookup failed: no-such-host.invalid",
        "bad-idna": "invalid URL: 'a..b.example' is not a valid host name",
        "bad-scheme": "invalid URL: scheme 'ftp' is not http or https",
        "metadata": "refused: 169.254.169.254 is a link-local address",
        "cgnat": "refused: 100.100.100.200 is a shared (carrier-grade NAT) address",
        "explodes": "gave up after 3 attempts: RuntimeError: boom",
    }
    for name, reason in expect.items():
        assert status[(name, "dead")] == n, (name, status)
        assert len(reasons[name]) == 1 and reason in (next(iter(reasons[name])) or ""), (name, reasons[name])
    duplicates = sum(c - 1 for r in (fast, slow) for ids in _ids_per_alert(r).values() for c in ids.values())
    print(
        f"\nFIGURE dispatcher faults: 2 dispatchers, {n} alerts x 9 subscriptions in {seconds:.1f} s; "
        f"good receivers got {len(fast.received)} + {len(slow.received)} requests for {n} + {n} alerts, "
        f"{duplicates} duplicates; 7 bad subscriptions: {7 * n} rows dead with their reasons, 0 left sending; "
        f"attempts per dispatcher {made}"
    )


def test_a_slow_receiver_holds_the_round_for_one_deadline(pg_sessions: sessionmaker[Session]) -> None:
    """A receiver that never answers costs its own deliveries one deadline; the others are recorded meanwhile."""
    n, secret = 10, new_secret()
    fast, hung = Receiver(secret=secret), Receiver(lambda _: "hang")
    with running_receiver(fast) as fast_url, running_receiver(hung) as hung_url:
        _subscribe(pg_sessions, "fast", fast_url, secret)
        _subscribe(pg_sessions, "hung", hung_url, secret)
        _raise_alerts(pg_sessions, n)
        dispatcher = Dispatcher(pg_sessions, timeout_s=1.0, per_subscription=n, concurrency=2 * n, max_attempts=1)
        dispatcher._schema_ready = True  # migrated by the fixture: time the round alone

        async def one_round() -> tuple[datetime, float]:
            try:
                began, started = datetime.now(UTC), time.monotonic()
                await dispatcher.run_once()
                return began, time.monotonic() - started
            finally:
                await dispatcher.close()

        began, held = asyncio.run(one_round())
    with pg_sessions() as session:
        rows = list(session.scalars(select(WebhookDelivery)))
        fast_at = [(r.delivered_at - began).total_seconds() for r in rows if r.status == "delivered" and r.delivered_at]
        hung_errors = {r.last_error for r in rows if r.status == "dead"}
    assert len(fast_at) == n and len(hung.received) == n
    assert hung_errors == {"gave up after 1 attempts: timeout: no answer within 1 s"}
    assert 1.0 <= held < 2.5, held
    assert max(fast_at) < held - 0.3, (fast_at, held)  # written before the hung ones gave up
    print(
        f"\nFIGURE slow receiver: a receiver that never answers held the round {held:.2f} s (deadline 1.0 s); "
        f"the fast receiver's {n} deliveries were recorded {max(fast_at):.2f} s after the round began"
    )


def test_endless_and_trickling_answers_are_cut(pg_sessions: sessionmaker[Session]) -> None:
    """An endless error body is read up to the cap; one that trickles a byte every 0.1 s (never tripping a
    per-read timeout) is cut at the overall deadline; an endless 200 is delivered."""
    secret = new_secret()
    plans = {
        "huge500": Receiver(lambda _: "huge500"),
        "trickle500": Receiver(lambda _: "trickle500"),
        "huge": Receiver(lambda _: "huge"),
    }
    with (
        running_receiver(plans["huge500"]) as u1,
        running_receiver(plans["trickle500"]) as u2,
        running_receiver(plans["huge"]) as u3,
    ):
        for name, url in zip(plans, (u1, u2, u3), strict=True):
            _subscribe(pg_sessions, name, url, secret)
        _raise_alerts(pg_sessions, 2)
        dispatcher = Dispatcher(pg_sessions, timeout_s=1.5, max_attempts=1)

        async def run() -> tuple[float, Any]:
            try:
                started = time.monotonic()
                await dispatcher.run_once()
                held = time.monotonic() - started
                reply = await dispatcher.sender.post(u1, b"{}", {}, allow_private=True)
                return held, reply
            finally:
                await dispatcher.close()

        held, reply = asyncio.run(run())
        time.sleep(0.3)  # let the receivers notice the hang-ups
    assert reply.status == 500 and reply.truncated and reply.body_bytes == 64 * 1024 and reply.elapsed_s < 1.0
    rows = {name: (st, err or "") for name, st, err in _rows(pg_sessions)}
    assert rows["huge"] == ("delivered", "")
    assert rows["huge500"][0] == "dead" and rows["huge500"][1].startswith("gave up after 1 attempts: xxxx")
    assert rows["trickle500"][0] == "dead" and rows["trickle500"][1].endswith("(body cut at the 1.5 s deadline)")
    assert held < 2.5, held
    for name in ("huge500", "huge"):  # the rest of 256 MiB was never read: what left is the cap plus socket buffers
        assert plans[name].streamed < 32 * 1024 * 1024, (name, plans[name].streamed)
    print(
        f"\nFIGURE endless bodies: error body read {reply.body_bytes} B of an endless one in {reply.elapsed_s:.2f} s; "
        f"receivers streamed {plans['huge500'].streamed >> 20} MiB / {plans['huge'].streamed >> 20} MiB of 256 "
        f"before the hang-up; a trickled body cut at the 1.5 s deadline; round {held:.2f} s"
    )


def _lease_race(sessions: sessionmaker[Session], *, renewals_fail: bool) -> tuple[Receiver, list[int]]:
    """Dispatcher A takes 10 deliveries to a receiver that needs 0.3 s each, one at a time (about 3 s against a
    2 s lease); B polls all the while. ``renewals_fail``: A cannot reach the database to renew. Returns the
    receiver and [attempts in A's first round, in A's later rounds, by B]."""
    n, secret = 10, new_secret()
    slow = Receiver(secret=secret, delay_s=0.3)
    with running_receiver(slow) as url:
        _subscribe(sessions, "slow", url, secret)
        _raise_alerts(sessions, n)
        a, b = (Dispatcher(sessions, timeout_s=0.8, lease_s=2.0, per_subscription=1, tick_s=0.05) for _ in range(2))
        if renewals_fail:

            def no_database(owner: str, ids: list[int]) -> set[int]:
                raise ConnectionError("the database is away")

            a._renew = no_database  # type: ignore[method-assign]

        def claimed() -> int:
            with sessions() as session:
                return delivery_counts(session).get("sending", 0)

        async def race() -> list[int]:
            try:
                first = asyncio.create_task(a.run_once())
                while not await asyncio.to_thread(claimed):  # A holds every row before B starts polling
                    await asyncio.sleep(0.01)
                b_rounds = asyncio.create_task(until_settled(sessions, b, limit_s=30))
                made_first = await first
                a_later = await until_settled(sessions, a, limit_s=30)
                return [made_first, sum(a_later), sum(await b_rounds)]
            finally:
                await a.close()
                await b.close()

        made = asyncio.run(race())
    return slow, made


@pytest.mark.parametrize("renewals_fail", [False, True], ids=["renewed", "renewal-fails"])
def test_a_round_that_outlasts_its_lease_is_not_delivered_twice(
    pg_sessions: sessionmaker[Session], renewals_fail: bool
) -> None:
    slow, made = _lease_race(pg_sessions, renewals_fail=renewals_fail)
    per_alert = _ids_per_alert(slow)
    assert len(per_alert) == 10 and all(list(ids.values()) == [1] for ids in per_alert.values()), per_alert
    assert Counter(status for _, status, _ in _rows(pg_sessions)) == {"delivered": 10}
    if renewals_fail:  # A stopped starting requests before its lease could run out; the others sent the rest
        assert 1 <= made[0] < 10 and made[0] + made[1] + made[2] == 10, made
    else:  # renewed: A's round kept every row for its whole 3 s; B got nothing
        assert made == [10, 0, 0], made
    print(
        f"\nFIGURE lease ({'renewal fails' if renewals_fail else 'renewed'}): 10 x 0.3 s one at a time against a "
        f"2 s lease; attempts [A's round, A later, B] = {made}; each webhook-id received once, 0 duplicates"
    )


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_only_the_lease_holder_renews_or_records(database: str, stack: Settings, unique: str, tmp_path: Any) -> None:
    """The conditional UPDATEs themselves: after A's lease expired and B claimed the row, A's renewal and A's
    result are refused, B's are written."""

    def check(url: str) -> None:
        engine = make_engine(url)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        _subscribe(sessions, "s", "http://127.0.0.1:9/hook", new_secret())
        _raise_alerts(sessions, 1)
        t0 = datetime.now(UTC)
        with sessions.begin() as session:
            row_id = claim_due(session, now=t0, lease_s=0.2, owner="A")[0].id
        with sessions.begin() as session:  # still A's: nobody else may claim it
            assert claim_due(session, now=t0, lease_s=0.2, owner="B") == []
            assert renew_leases(session, ids=[row_id], owner="A", now=t0, lease_s=0.2) == {row_id}
        later = datetime.fromtimestamp(t0.timestamp() + 1, tz=UTC)
        with sessions.begin() as session:
            assert [r.id for r in claim_due(session, now=later, lease_s=30, owner="B")] == [row_id]
        with sessions.begin() as session:
            assert renew_leases(session, ids=[row_id], owner="A", now=later, lease_s=30) == set()
            assert not finish_delivery(
                session,
                delivery_id=row_id,
                owner="A",
                now=later,
                outcome=DeliveryOutcome(DeliveryStatus.DEAD, attempts=1),
            )
            assert finish_delivery(
                session,
                delivery_id=row_id,
                owner="B",
                now=later,
                outcome=DeliveryOutcome(DeliveryStatus.DELIVERED, attempts=1, delivered_at=later),
            )
        with sessions() as session:
            row = session.get(WebhookDelivery, row_id)
            assert row is not None and (row.status, row.lease_owner, row.lease_until) == ("delivered", None, None)
        engine.dispose()

    if database == "sqlite":
        check(f"sqlite:///{tmp_path / 'radar.db'}")
    else:
        with fresh_postgres(stack.postgres_url, f"radar_t{unique}") as url:
            check(url)


def test_webhooks_add_and_test_apply_the_same_rules(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADAR_DATABASE_URL", f"sqlite:///{tmp_path / 'radar.db'}")
    engine = make_engine(f"sqlite:///{tmp_path / 'radar.db'}")
    upgrade(engine)  # what `radar db upgrade` does: the command line only checks the revision
    engine.dispose()
    monkeypatch.setenv("RADAR_WEBHOOK_ALLOW_PRIVATE", "false")
    monkeypatch.setenv("COLUMNS", "400")  # typer's error panel must not wrap the reasons
    runner = CliRunner()
    receiver = Receiver()
    with running_receiver(receiver) as url:
        refused = {
            "--secret whsec_abc": (["add", "a", url, "--allow-private", "--secret", "whsec_abc"], "not base64"),
            "short secret": (["add", "a", url, "--allow-private", "--secret", "whsec_" + "QUFB" * 4], "12 bytes"),
            "ftp": (["add", "a", url.replace("http", "ftp"), "--allow-private"], "scheme 'ftp'"),
            "no host": (["add", "a", "http:///hook"], "no host"),
            "unknown name": (["add", "a", "https://no-such-host.invalid/hook"], "DNS lookup failed"),
            "cgnat": (["add", "a", "http://100.64.0.1/hook"], "carrier-grade NAT"),
            "loopback": (["add", "a", url], "loopback"),
        }
        for case, (args, why) in refused.items():
            result = runner.invoke(webhooks_app, args)
            assert result.exit_code != 0 and why in " ".join(result.output.split()), (case, result.output)
        assert runner.invoke(webhooks_app, ["add", "ok", url, "--allow-private"]).exit_code == 0
        result = runner.invoke(webhooks_app, ["test", "ok"])
        assert result.exit_code == 0 and "200" in result.output, result.output
        # a row from before the rules (or written by hand): `webhooks test` is refused like a delivery would be
        sessions = make_sessionmaker(make_engine(f"sqlite:///{tmp_path / 'radar.db'}"))
        _subscribe(sessions, "legacy", url, new_secret(), allow_private=False)
        _subscribe(sessions, "legacy-secret", url, "whsec_abc", allow_private=True)
        result = runner.invoke(webhooks_app, ["test", "legacy"])
        assert result.exit_code == 1 and "refused: 127.0.0.1 is a loopback address" in result.output, result.output
        result = runner.invoke(webhooks_app, ["test", "legacy-secret"])
        assert result.exit_code == 1 and "invalid signing secret" in result.output, result.output
    assert len(receiver.received) == 1  # only the allowed test arrived


def test_sender_reports_refusals_without_raising() -> None:
    async def run() -> list[Any]:
        sender = Sender(timeout_s=1.0)
        try:
            return [
                await sender.post(u, b"{}", {}, allow_private=False)
                for u in (
                    "http://127.0.0.1:9/x",
                    "http://localhost:9/x",
                    "http://[::ffff:169.254.169.254]/",
                    "http://2130706433:9/",
                    "http://0x7f.0.0.1:9/",
                    "http://no-such-host.invalid/",
                    "gopher://127.0.0.1/",
                )
            ]
        finally:
            await sender.close()

    replies = asyncio.run(run())
    assert [r.status for r in replies] == [None] * 7 and all(r.permanent for r in replies)
    assert [r.detail.split(":")[0] for r in replies] == ["refused"] * 5 + ["DNS lookup failed", "invalid URL"]
    assert "embeds 169.254.169.254" in replies[2].detail
    assert all("127.0.0.1 is a loopback address" in r.detail for r in replies[3:5])  # other spellings of 127.0.0.1


def test_a_nul_byte_in_a_reply_fails_nothing_on_postgresql(pg_sessions: sessionmaker[Session]) -> None:
    """PostgreSQL refuses NUL in text; the reply is stored escaped, the round's other outcomes are kept, and every
    attempt is counted (before: the round rolled back, the good deliveries were POSTed again after the lease)."""
    n, secret = 3, new_secret()
    good, nul = Receiver(secret=secret), Receiver(lambda _: "nul500")
    with running_receiver(good) as good_url, running_receiver(nul) as nul_url:
        _subscribe(pg_sessions, "good", good_url, secret)
        _subscribe(pg_sessions, "nul", nul_url, secret)
        _raise_alerts(pg_sessions, n)
        dispatcher = Dispatcher(pg_sessions, timeout_s=2.0, concurrency=8, max_attempts=5, backoff_base_s=60)

        async def one_round() -> int:
            try:
                return await dispatcher.run_once()
            finally:
                await dispatcher.close()

        assert asyncio.run(one_round()) == 2 * n
    with pg_sessions() as session:
        rows = {(r.subscription_id, r.alert_id): r for r in session.scalars(select(WebhookDelivery))}
        by_status = Counter((r.status, r.attempts) for r in rows.values())
        errors = {r.last_error for r in rows.values() if r.status == "pending"}
    assert by_status == Counter({("delivered", 1): n, ("pending", 1): n}), by_status
    assert len(good.received) == n and len(nul.received) == n
    assert errors == {"upstream\\x00failed"}, errors  # escaped, readable


def test_signing_secrets_are_sealed_at_rest_and_rotate(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader of webhook_subscriptions sees `fernet:...`, not the secret; deliveries still verify with the printed
    secret; rotation re-seals with the new key; a secret no key opens is that delivery's retry, not the round's."""
    import re

    from storage.secret_box import SEALED, SecretBox, new_key

    db = f"sqlite:///{tmp_path / 'radar.db'}"
    engine = make_engine(db)
    upgrade(engine)
    engine.dispose()
    old, new = new_key(), new_key()
    monkeypatch.setenv("RADAR_DATABASE_URL", db)
    monkeypatch.setenv("RADAR_SECRETS_KEYS", old)
    sessions = make_sessionmaker(make_engine(db))
    runner = CliRunner()
    receiver = Receiver()
    with running_receiver(receiver) as url:
        added = runner.invoke(webhooks_app, ["add", "sealed", url, "--allow-private"])
        assert added.exit_code == 0, added.output
        printed = re.search(r"signing secret: (whsec_\S+)", added.output).group(1)  # type: ignore[union-attr]
        receiver.secret = printed

        def stored() -> str:
            with sessions() as session:
                return str(session.scalars(select(WebhookSubscription.secret)).one())

        at_rest = stored()
        assert at_rest.startswith(SEALED) and printed not in at_rest
        _raise_alerts(sessions, 1)

        def one_round(keys: str) -> None:
            async def run() -> None:
                dispatcher = Dispatcher(sessions, timeout_s=2.0, secrets=SecretBox.of(keys), backoff_base_s=0.01)
                try:
                    await dispatcher.run_once()
                finally:
                    await dispatcher.close()

            asyncio.run(run())

        one_round(new_key())  # the wrong key: nothing sent, the row waits with the reason
        assert receiver.received == [] and _rows(sessions)[0][1] == "pending"
        assert "does not open" in str(_rows(sessions)[0][2])
        monkeypatch.setenv("RADAR_SECRETS_KEYS", f"{new},{old}")
        assert runner.invoke(webhooks_app, ["rotate-secrets"]).exit_code == 0
        assert stored() != at_rest and SecretBox([new]).open(stored()) == printed  # the new key alone opens it
        time.sleep(0.1)
        one_round(new)
        assert len(receiver.received) == 1 and receiver.verified == [True]
    monkeypatch.delenv("RADAR_SECRETS_KEYS")
    assert runner.invoke(webhooks_app, ["rotate-secrets"]).exit_code == 1  # no keys: refused, nothing changed
