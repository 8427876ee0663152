"""The published JSON Schemas (``docs/schemas``): current with the domain types, and true of real records.

The records are made the way the product makes them: a scenario's raw events as replay sends them, through the
score stage's pure steps, an alert from the detector with evidence from those events, stored in SQL and rendered
as the dispatcher renders it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from core.alerts import Alert
from core.domain import Label
from core.schemas import public_schemas
from inference.dataset import Example
from localdev.scenarios import SCENARIOS, generate
from services.cli import app
from services.cli.schemas import DEFAULT_DIR, stale_schemas
from services.webhooks.payloads import render
from storage.alerts_repo import alert_from_row, record_minute
from storage.models import Alert as AlertRow
from storage.models import Base
from stream.detect import EntityDetectors, observe_minute
from stream.detectors import MinuteStats
from stream.entities import EntityMatcher, load_watchlist
from stream.scoring import Incoming, RecentIds, encode, prepare_batch, scored_event

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
runner = CliRunner()


# jsonschema checks "date-time" only with an optional package; the contracts' instants carry a time zone
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _aware_instant(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((DEFAULT_DIR / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FORMATS)


def _errors(name: str, record: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _validator(name).iter_errors(record)]


def test_docs_schemas_are_current() -> None:
    assert stale_schemas(DEFAULT_DIR) == [], "docs/schemas lags behind the domain types: run `radar schemas`"
    assert sorted(p.stem for p in DEFAULT_DIR.glob("*.json")) == sorted(public_schemas())


def test_the_command_writes_and_checks(tmp_path: Path) -> None:
    out = tmp_path / "schemas"
    assert runner.invoke(app, ["schemas", "--check", "--dir", str(out)]).exit_code == 1
    assert runner.invoke(app, ["schemas", "--dir", str(out)]).exit_code == 0
    assert runner.invoke(app, ["schemas", "--check", "--dir", str(out)]).exit_code == 0
    (out / "alert.json").write_text("{}\n")
    (out / "old_contract.json").write_text("{}\n")
    assert stale_schemas(out) == ["alert.json", "old_contract.json"]
    assert runner.invoke(app, ["schemas", "--dir", str(out)]).exit_code == 0
    assert stale_schemas(out) == [] and not (out / "old_contract.json").exists()


def _raw_events(n: int) -> list[dict[str, Any]]:
    """A scenario's first ``n`` events, as JSON (what replay and HTTP producers send)."""
    rated = [("tweets", 2.0, "positive"), ("tweets", -2.0, "negative"), ("nyt", -2.0, "negative")] * 4
    rated += [("movie", 0.0, "neutral"), ("movie", -2.0, "negative")] * 4
    texts = [Example(str(i), d, f"Acme and Globex, take {i}", r, lab) for i, (d, r, lab) in enumerate(rated)]
    scenario = generate(SCENARIOS["smoke"], texts, load_watchlist(_watchlist()), seed=5, start=START)
    return [json.loads(json.dumps(event)) for event in scenario.events[:n]]


def _watchlist() -> Path:
    return Path(__file__).resolve().parents[2] / "deploy" / "watchlist.toml"


def _scored(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The score stage's pure steps on ``raw``, with probabilities that follow each text's true label."""
    items = [Incoming(json.dumps(e).encode(), e["id"].encode(), "radar.raw.news", 0, i) for i, e in enumerate(raw)]
    tag = EntityMatcher(load_watchlist(_watchlist())).tag
    prepared = prepare_batch(items, kind_of_topic={"radar.raw.news": "news"}, tag=tag, seen=RecentIds(), now=START)
    assert not prepared.dead and len(prepared.valid) == len(raw)
    out = []
    for event, entities, _ in prepared.valid:
        probs = [0.1, 0.1, 0.1]
        probs[Label(event.meta["label"] if event.meta else "neutral").position] = 0.8
        out.append(json.loads(encode(scored_event(event, entities, probs, model="sentiment/3", now=START))))
    return out


def _alert_with_evidence(scored: list[dict[str, Any]]) -> Alert:
    """The detector's alert on a negative storm, carrying the most negative scored events as its evidence."""
    detectors = EntityDetectors()
    quiet = MinuteStats(n=4, negative=1, neutral=1, positive=2, total=0.5, total_sq=1.6)
    storm = MinuteStats(n=40, negative=34, neutral=4, positive=2, total=-26.0, total_sq=24.0)
    minute = int(START.timestamp() // 60)
    for m in range(minute - 60, minute):
        observe_minute(detectors, "ACME", m, quiet)
    alert = next(a for m in range(minute, minute + 4) for a in observe_minute(detectors, "ACME", m, storm))
    worst = sorted(scored, key=lambda s: s["sentiment"]["score"])[:5]
    return alert.with_evidence(
        {"id": s["id"], "text": s["text"][:200], "score": round(s["sentiment"]["score"], 4)} for s in worst
    )


@pytest.fixture(scope="module")
def records() -> dict[str, list[Any]]:
    raw = _raw_events(120)
    scored = _scored(raw)
    alert = _alert_with_evidence(scored)
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine)
    resolved = alert.resolved(alert.window_end + timedelta(minutes=15))
    with sessions.begin() as session:
        record_minute(session, alerts=[alert], rollups=[], now=START)
    with sessions() as session:
        opened = alert_from_row(session.scalars(select(AlertRow)).one())
    with sessions.begin() as session:
        record_minute(session, alerts=[], rollups=[], resolved=[resolved], now=START)
    with sessions() as session:
        stored = alert_from_row(session.scalars(select(AlertRow)).one())
    webhooks = [
        json.loads(render("radar", opened, receiver="r", external_url="http://radar.invalid")),
        json.loads(render("radar", stored, receiver="r", external_url="http://radar.invalid", event="resolved")),
    ]
    engine.dispose()
    return {
        "raw_event": raw,
        "scored_event": scored,
        "alert": [alert.model_dump(mode="json"), resolved.model_dump(mode="json")],
        "webhook_payload": webhooks,
    }


@pytest.mark.parametrize("name", ["raw_event", "scored_event", "alert", "webhook_payload"])
def test_real_records_validate(records: dict[str, list[Any]], name: str) -> None:
    assert records[name]
    problems = [problem for record in records[name] for problem in _errors(name, record)]
    assert not problems, problems[:5]


def test_the_schemas_refuse_what_the_contracts_refuse(records: dict[str, list[Any]]) -> None:
    raw, scored, alert = records["raw_event"][0], records["scored_event"][0], records["alert"][0]
    assert _errors("raw_event", {k: v for k, v in raw.items() if k != "kind"}) == []  # the topic's kind is used
    assert _errors("raw_event", {**raw, "entities": ["../etc"]})
    assert _errors("scored_event", {**scored, "sentiment": {**scored["sentiment"], "label": "angry"}})
    assert _errors("scored_event", {k: v for k, v in scored.items() if k != "scored_at"})
    assert _errors("alert", {**alert, "severity": "severe"})
    assert _errors("alert", {**alert, "window_start": "2026-01-05T10:00:00"})  # no time zone
    assert _errors("alert", {**alert, "status": "closed"})
    assert _errors("webhook_payload", {**records["webhook_payload"][0], "type": "alert.raised"})  # before #16
