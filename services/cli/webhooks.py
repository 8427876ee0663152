"""``radar webhooks add | list | remove | test`` and ``radar dispatcher``."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.alerts import StoredAlert
from core.domain import DetectorName, Severity
from core.errors import ConfigError, Conflict, NotFound
from core.samples import sample_alert
from core.settings import Settings
from core.webhook_signing import new_secret, secret_problem
from services.webhooks.payloads import render
from services.webhooks.policy import private_target, url_problem
from services.webhooks.sender import Reply, Sender, Undeliverable, signed_headers

if TYPE_CHECKING:
    from storage.secret_box import SecretBox

__all__ = ["dispatcher_cmd", "webhooks_app"]

webhooks_app = typer.Typer(help="Alert webhooks: subscriptions and a test delivery.", no_args_is_help=True)
console = Console()


def _sessions(settings: Settings):
    """Sessions on a database at this release's schema (StorageError naming `radar db upgrade` otherwise)."""
    from storage.db import make_engine, make_sessionmaker, require_current_schema  # SQLAlchemy loads only here

    engine = make_engine(settings.database_url)
    require_current_schema(engine)
    return make_sessionmaker(engine)


@webhooks_app.command("add")
def add_cmd(
    name: str,
    url: str,
    payload_format: Annotated[str, typer.Option("--format", help="radar or alertmanager")] = "radar",
    entity: Annotated[list[str] | None, typer.Option(help="only these entities (repeatable)")] = None,
    detector: Annotated[
        list[str] | None, typer.Option(help=f"only these detectors (repeatable): {', '.join(DetectorName)}")
    ] = None,
    min_severity: Annotated[str, typer.Option(help=", ".join(Severity))] = Severity.INFO.value,
    secret: Annotated[str | None, typer.Option(help="whsec_... (default: a new random secret)")] = None,
    allow_private: Annotated[bool, typer.Option(help="allow private or loopback addresses")] = False,
) -> None:
    """Subscribe URL to alerts; prints the signing secret the receiver verifies with."""
    from storage.subscriptions import add_subscription, find_subscription

    settings = Settings()
    if payload_format not in ("radar", "alertmanager"):
        raise typer.BadParameter("--format is radar or alertmanager")
    if min_severity not in {severity.value for severity in Severity}:
        raise typer.BadParameter(f"--min-severity is one of {', '.join(Severity)}")
    if unknown := sorted(set(detector or ()) - {name.value for name in DetectorName}):
        raise typer.BadParameter(f"--detector {', '.join(unknown)}: a detector is one of {', '.join(DetectorName)}")
    if why := url_problem(url):
        raise typer.BadParameter(f"{url}: {why}")
    if secret is not None and (why := secret_problem(secret)):
        raise typer.BadParameter(f"--secret: {why} (a Standard Webhooks secret is whsec_ + base64 of 24 to 64 bytes)")
    why = private_target(url)
    if why and why.startswith("DNS lookup failed"):
        raise typer.BadParameter(f"{url}: {why}")
    if why and not (allow_private or settings.webhook_allow_private):
        raise typer.BadParameter(f"{url}: {why}; pass --allow-private if that is intended")
    secret = secret or new_secret()
    with _sessions(settings).begin() as session:
        if find_subscription(session, name=name):
            raise Conflict(f"a subscription named {name!r} exists")
        add_subscription(
            session,
            name=name,
            url=url,
            secret=_box(settings).seal(secret),  # at rest: sealed with RADAR_SECRETS_KEYS where set
            payload_format=payload_format,
            entities=entity,
            detectors=detector,
            min_severity=min_severity,
            allow_private=allow_private,
        )
    console.print(f"subscribed [bold]{name}[/] -> {url}\nsigning secret: [bold]{secret}[/]")


def _box(settings: Settings) -> SecretBox:
    from storage.secret_box import SecretBox

    return SecretBox.of(settings.secrets_keys.get_secret_value() if settings.secrets_keys else None)


@webhooks_app.command("rotate-secrets")
def rotate_secrets_cmd() -> None:
    """Re-seal every stored signing secret with the first key of RADAR_SECRETS_KEYS (put a new key first, run this,
    then drop the old key); secrets stored in plain text are sealed too. Exit 1 without keys or when a secret opens
    with none of them."""
    from sqlalchemy import select

    from storage.models import WebhookSubscription

    settings = Settings()
    box = _box(settings)
    if not box.encrypts:
        raise ConfigError("set RADAR_SECRETS_KEYS first (a key: `radar webhooks new-key`)")
    with _sessions(settings).begin() as session:
        subscriptions = list(session.scalars(select(WebhookSubscription)))
        for sub in subscriptions:
            sub.secret = box.reseal(sub.secret)
    console.print(f"{len(subscriptions)} signing secret(s) sealed with the first key of RADAR_SECRETS_KEYS")


@webhooks_app.command("new-key")
def new_key_cmd() -> None:
    """Print a new key for RADAR_SECRETS_KEYS (put it first, then `radar webhooks rotate-secrets`)."""
    from storage.secret_box import new_key

    typer.echo(new_key())


@webhooks_app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json", help="one JSON array, for scripts")] = False) -> None:
    """The subscriptions with their filters and state (secrets are never shown)."""
    from storage.subscriptions import list_subscriptions

    with _sessions(Settings())() as session:
        rows = [
            {
                "name": s.name,
                "url": s.url,
                "format": s.payload_format,
                "entities": s.entities,
                "detectors": s.detectors,
                "min_severity": s.min_severity,
                "enabled": s.enabled,
                "disabled_reason": s.disabled_reason,
            }
            for s in list_subscriptions(session)
        ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="webhook subscriptions")
    for column in ("name", "url", "format", "filters", "state"):
        table.add_column(column)
    for r in rows:
        filters = [
            f"entities={r['entities']}" if r["entities"] else "",
            f"detectors={r['detectors']}" if r["detectors"] else "",
        ]
        filters.append(f">= {r['min_severity']}")
        state = "enabled" if r["enabled"] else f"disabled: {r['disabled_reason']}"
        table.add_row(str(r["name"]), str(r["url"]), str(r["format"]), ", ".join(f for f in filters if f), state)
    console.print(table)


@webhooks_app.command("remove")
def remove_cmd(name: str) -> None:
    from storage.subscriptions import remove_subscription

    with _sessions(Settings()).begin() as session:
        gone = remove_subscription(session, name=name)
    if not gone:
        raise NotFound(f"no subscription named {name!r}")
    console.print(f"removed {name}")


@webhooks_app.command("test")
def test_cmd(name: str) -> None:
    """POST a signed sample alert to the subscription now (not through the outbox) and show the answer; the same
    checks and the same guarded client as the dispatcher's (a test must not reach what a delivery may not)."""
    from storage.subscriptions import find_subscription

    settings = Settings()
    with _sessions(settings)() as session:
        sub = find_subscription(session, name=name)
        if sub is None:
            raise NotFound(f"no subscription named {name!r}")
        url, secret, payload_format = sub.url, _box(settings).open(sub.secret), sub.payload_format
        allow_private = sub.allow_private or settings.webhook_allow_private
    external_url = settings.api_public_url
    body = render(payload_format, _test_alert(), receiver=name, external_url=external_url)
    try:
        headers = signed_headers(url, secret, f"msg_test_{int(time.time())}", int(time.time()), body)
    except Undeliverable as exc:
        console.print(f"[red]failed:[/] {exc.reason}")
        raise typer.Exit(1) from None
    reply = asyncio.run(_send_once(url, body, headers, allow_private=allow_private))
    if reply.status is None:
        console.print(f"[red]failed:[/] {reply.detail}")
        raise typer.Exit(1)
    console.print(f"{reply.status}: {reply.detail}")
    console.print(json.dumps(headers, indent=2))
    if not 200 <= reply.status < 300:
        raise typer.Exit(1)


def _test_alert() -> StoredAlert:
    """A sample alert, marked as a test in its entity and message."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    message = "TEST: a test alert from radar webhooks test"
    sample = sample_alert("TEST", start=now, severity=Severity.INFO, message=message)
    return StoredAlert(**dict(sample), id=0, created_at=now)


async def _send_once(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool) -> Reply:
    sender = Sender(timeout_s=10.0)
    try:
        return await sender.post(url, body, headers, allow_private=allow_private)
    finally:
        await sender.close()


def dispatcher_cmd(
    concurrency: Annotated[int, typer.Option(help="deliveries in flight")] = 32,
    timeout_s: Annotated[float, typer.Option(help="per request")] = 10.0,
) -> None:
    """Deliver the webhook outbox until stopped (SIGTERM / Ctrl-C finish the round in flight)."""
    from services.webhooks.process import run_dispatcher

    run_dispatcher(Settings(), concurrency=concurrency, timeout_s=timeout_s, say=console.print)
