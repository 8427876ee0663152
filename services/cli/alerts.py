"""``radar alerts list | show | ack``: the alerts in the SQL store (RADAR_DATABASE_URL), read and acknowledged directly.

Exit 1 for a runtime error (no such alert, a resolved alert, the database away or behind: a RadarError), 2 for a
usage error (a status that does not exist, a limit out of range, a bad name).
"""

from __future__ import annotations

import getpass
import json
import re
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.alerts import StoredAlert
from core.domain import AlertStatus
from core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["alerts_app"]

MAX_ID = 2**31 - 1  # alerts.id is a 32-bit INTEGER in PostgreSQL
_PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
alerts_app = typer.Typer(help="Alerts: list them, show one with its story, acknowledge one.", no_args_is_help=True)
console = Console(markup=False)  # every value printed comes from outside: "[/x]" in a name is text, not markup


def _sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions on a database at this release's schema (StorageError naming `radar db upgrade` otherwise)."""
    from storage.db import make_engine, make_sessionmaker, require_current_schema  # SQLAlchemy loads only here

    engine = make_engine(settings.database_url)
    require_current_schema(engine)
    return make_sessionmaker(engine)


def _default_by() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment (a container without a passwd entry)
        return "cli"


@alerts_app.command("list")
def list_cmd(
    status: Annotated[AlertStatus | None, typer.Option(help="only alerts in this state")] = None,
    entity: Annotated[str | None, typer.Option(help="only this entity")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="at most this many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON array (webhook data form)")] = False,
) -> None:
    """The newest alerts, with their status."""
    from storage.alerts_repo import alert_from_row, list_alerts

    if entity is not None and not _PRINTABLE.fullmatch(entity):
        raise typer.BadParameter("--entity is printable text of at most 128 characters")
    with _sessions(Settings())() as session:
        alerts = [alert_from_row(row) for row in list_alerts(session, entity=entity, status=status, limit=limit)]
    if as_json:
        typer.echo(json.dumps([alert.model_dump(mode="json") for alert in alerts], indent=2))
        return
    table = Table(title=f"alerts ({len(alerts)}, newest first)")
    for column in ("id", "status", "window end (UTC)", "entity", "detector", "severity", "what happened"):
        table.add_column(column, overflow="fold")
    for alert in alerts:
        table.add_row(
            str(alert.id),
            _status(alert),
            alert.window_end.strftime("%Y-%m-%d %H:%M"),
            alert.entity,
            alert.detector,
            alert.severity.value,
            alert.message,
        )
    console.print(table)


def _status(alert: StoredAlert) -> str:
    if alert.status is AlertStatus.ACKNOWLEDGED and alert.acknowledged_by:
        return f"acknowledged by {alert.acknowledged_by}"
    return alert.status.value


@alerts_app.command("ack")
def ack_cmd(
    alert_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, metavar="ID", help="the alert's id")],
    by: Annotated[str | None, typer.Option(help="who acknowledges it (default: cli:<user name>)")] = None,
) -> None:
    """Acknowledge an open alert; acknowledging it again changes nothing, a resolved one is refused (exit 1)."""
    from storage.alerts_repo import acknowledge_alert, alert_from_row

    name = by if by is not None else _default_by()
    if not _PRINTABLE.fullmatch(name):
        raise typer.BadParameter("--by is printable text of 1 to 128 characters")
    with _sessions(Settings()).begin() as session:
        alert = alert_from_row(acknowledge_alert(session, alert_id=alert_id, by=name))
    at = alert.acknowledged_at.isoformat() if alert.acknowledged_at else "?"
    console.print(f"alert {alert.id} ({alert.key}) acknowledged by {alert.acknowledged_by} at {at}")


@alerts_app.command("show")
def show_cmd(
    alert_id: Annotated[int, typer.Argument(min=1, max=MAX_ID, metavar="ID", help="the alert's id")],
    as_json: Annotated[bool, typer.Option("--json", help="the alert as JSON (webhook data form)")] = False,
) -> None:
    """One alert and its story: what changed, the key phrases, the texts most said (near-copies collapsed, with
    their copies and sources), where they came from. Exit 1 when there is no such alert."""
    from core.errors import NotFound
    from storage.alerts_repo import alert_from_row, get_alert

    with _sessions(Settings())() as session:
        row = get_alert(session, alert_id=alert_id)
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        alert = alert_from_row(row)
    if as_json:
        typer.echo(json.dumps(alert.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    console.print(f"alert {alert.id} {alert.key}: {_status(alert)}, {alert.severity.value}")
    console.print(alert.message)
    explanation = alert.explanation
    if explanation is None:
        console.print("(no explanation: recorded before alerts carried one)")
        return
    console.print(f"\n{explanation.summary}\n")
    if explanation.negative_share is not None:
        usual = explanation.usual_negative_share
        console.print(
            f"negative {explanation.negative_share:.0%} of {explanation.texts} texts"
            + (f" (usually {usual:.0%} of {explanation.baseline_texts})" if usual is not None else "")
        )
    phrases = Table(title="key phrases (against the entity's hour before)")
    for column in ("phrase", "texts", "x usual", "z"):
        phrases.add_column(column)
    for k in explanation.key_phrases:
        phrases.add_row(k.phrase, str(k.texts), f"{k.ratio:g}", f"{k.z:.1f}")
    console.print(phrases)
    texts = Table(title="what is said (near-copies collapsed)")
    for column in ("copies", "sources", "score", "text"):
        texts.add_column(column, overflow="fold")
    for r in explanation.representatives:
        texts.add_row(str(r.copies), str(r.sources), f"{r.score:+.2f}", r.text)
    console.print(texts)
    console.print(
        "sources: "
        + ", ".join(f"{name} {n}" for name, n in explanation.sources.items())
        + " | kinds: "
        + ", ".join(f"{name} {n}" for name, n in explanation.kinds.items())
        + " | sentiment: "
        + ", ".join(f"{name} {n}" for name, n in explanation.sentiment.items())
    )
