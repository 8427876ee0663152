"""``radar alerts list | show | ack`` with typer's CliRunner on a SQLite store: exit 0, 1 for runtime errors (the main
entry point's mapping of RadarError), 2 for usage errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner, Result

from core.alerts import Alert
from core.errors import Conflict, NotFound
from core.explain import explain
from core.samples import sample_alert
from services.cli import app
from storage.alerts_repo import record_minute
from storage.db import make_engine, upgrade

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
runner = CliRunner()


def _alert(entity: str, minute: int) -> Alert:
    return sample_alert(entity, start=T0 + timedelta(minutes=minute), message=f"{entity} spiked at minute {minute}")


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three alerts: 1 ACME (open), 2 GLBX (resolved), 3 ACME (open)."""
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with sessionmaker(engine).begin() as session:
        record_minute(session, alerts=[_alert("ACME", 0), _alert("GLBX", 1), _alert("ACME", 2)], rollups=[], now=T0)
        resolved = _alert("GLBX", 1).resolved(T0 + timedelta(hours=1)).with_explanation(STORY)
        record_minute(session, alerts=[], rollups=[], resolved=[resolved])
    engine.dispose()
    monkeypatch.setenv("RADAR_DATABASE_URL", url)
    monkeypatch.setenv("RADAR_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("COLUMNS", "200")


STORY = explain(
    "GLBX",
    [{"text": "Globex halts withdrawals, depositors queue", "score": -0.9, "source": f"bot{i % 3}"} for i in range(40)]
    + [{"text": f"Globex branch {i} closed early today", "score": -0.6, "source": "wire"} for i in range(6)],
    [{"text": f"Globex quarterly update {i}", "score": 0.2, "source": "wire"} for i in range(30)],
    minutes=3,
)


def _run(*args: str) -> Result:
    return runner.invoke(app, ["alerts", *args])


def _listed(*args: str) -> list[dict[str, object]]:
    result = _run("list", "--json", *args)
    assert result.exit_code == 0, result.output
    listed: list[dict[str, object]] = json.loads(result.output)
    return listed


def test_list_filters_by_status_and_entity_newest_first() -> None:
    assert [(a["id"], a["status"]) for a in _listed()] == [(3, "open"), (2, "resolved"), (1, "open")]
    assert [a["id"] for a in _listed("--status", "open")] == [3, 1]
    assert [a["id"] for a in _listed("--status", "resolved")] == [2]
    assert [a["id"] for a in _listed("--entity", "ACME", "--limit", "1")] == [3]
    assert _listed("--status", "acknowledged") == []
    table = _run("list")
    assert table.exit_code == 0 and "GLBX spiked at minute 1" in table.output and "resolved" in table.output


def test_ack_then_ack_again_then_the_list_shows_who() -> None:
    first = _run("ack", "1", "--by", "alice")
    assert first.exit_code == 0, first.output
    assert "alert 1 (ACME:volume_spike:2026-03-02T09:00Z) acknowledged by alice" in first.output
    again = _run("ack", "1", "--by", "bob")
    assert again.exit_code == 0 and "acknowledged by alice" in again.output, "the first acknowledgement stands"
    [acked] = _listed("--status", "acknowledged")
    assert (acked["id"], acked["acknowledged_by"]) == (1, "alice") and acked["acknowledged_at"]
    assert "acknowledged by alice" in _run("list").output
    default = _run("ack", "3")
    assert default.exit_code == 0 and "acknowledged by cli" in default.output


def test_runtime_errors_exit_1() -> None:
    resolved = _run("ack", "2")
    assert resolved.exit_code == 1 and isinstance(resolved.exception, Conflict)
    assert "is resolved" in str(resolved.exception)
    unknown = _run("ack", "99")
    assert unknown.exit_code == 1 and isinstance(unknown.exception, NotFound)


@pytest.mark.parametrize(
    "args",
    [
        ("list", "--status", "closed"),
        ("list", "--limit", "0"),
        ("list", "--limit", "501"),
        ("list", "--entity", "A\x00CME"),
        ("ack", "0"),
        ("ack", "2147483648"),
        ("ack", "x"),
        ("ack", "1", "--by", ""),
        ("ack", "1", "--by", "a" * 129),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = _run(*args)
    assert result.exit_code == 2, (args, result.output)


def test_show_tells_the_alerts_story_as_stored_when_it_resolved() -> None:
    shown = _run("show", "2")
    assert shown.exit_code == 0, shown.output
    assert STORY.summary in shown.output.replace("\n", "")
    assert "Globex halts withdrawals, depositors queue" in shown.output  # the storm, once
    assert "bot0 14" in shown.output and "wire 6" in shown.output  # the sources with their texts
    story = json.loads(_run("show", "2", "--json").output)["explanation"]
    assert story["representatives"][0] == {
        "text": "Globex halts withdrawals, depositors queue",
        "copies": 40,
        "sources": 3,
        "score": -0.9,
    }
    phrases = [k["phrase"] for k in story["key_phrases"]]
    assert any("withdrawals" in p for p in phrases) and any("depositors" in p for p in phrases), phrases


def test_show_of_an_alert_without_a_story_says_so_and_of_no_alert_exits_1() -> None:
    assert "no explanation" in _run("show", "1").output
    missing = _run("show", "99")
    assert missing.exit_code == 1 and isinstance(missing.exception, NotFound)


def test_values_that_look_like_rich_markup_print_as_text() -> None:
    """An acknowledger named "[/x]" crashed `alerts list` (Rich read it as a closing tag)."""
    assert _run("ack", "1", "--by", "[/x]").exit_code == 0
    listed = _run("list")
    assert listed.exit_code == 0, listed.output
    assert "acknowledged by [/x]" in listed.output
    shown = _run("show", "1")
    assert shown.exit_code == 0 and "[/x]" in shown.output
