"""Scenario generation's pieces: which incident is under way, the text pools, event numbering, incident labels
and who writes the events."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from inference.dataset import Example
from localdev.scenarios import (
    ENTITY_SLOT,
    FIN_CALM_DOMAIN,
    FIN_INCIDENT_DOMAIN,
    SCENARIOS,
    THREAD_ACCOUNTS,
    Incident,
    PlantedBurst,
    ScenarioSpec,
    _incident_at,
    _text_pools,
    generate,
)
from stream.entities import Entity

_START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _texts() -> list[Example]:
    rated = [("tweets", 2.0, "positive"), ("tweets", -2.0, "negative"), ("nyt", -2.0, "negative")] * 4
    rated += [("movie", 0.0, "neutral"), ("movie", -2.0, "negative")] * 4
    return [Example(str(i), domain, f"text {i}", r, label) for i, (domain, r, label) in enumerate(rated)]


def test_an_incident_is_under_way_from_its_start_to_before_its_end() -> None:
    spec = ScenarioSpec("t", 60, 1.0, (Incident("ACME", 10, 5), Incident("ACME", 12, 10, multiplier=2)))
    assert _incident_at(spec, "ACME", 9) is None
    assert _incident_at(spec, "ACME", 10) == spec.incidents[0]
    assert _incident_at(spec, "ACME", 14) == spec.incidents[0]  # the first listed wins an overlap
    assert _incident_at(spec, "ACME", 15) == spec.incidents[1]
    assert _incident_at(spec, "GLBX", 12) is None


def test_tweets_are_social_nyt_news_and_reviews_either() -> None:
    pools = _text_pools(_texts())
    assert {e.domain for e in pools[("en", "social", "any")]} == {"tweets", "movie"}
    assert {e.domain for e in pools[("en", "social", "negative")]} == {"tweets", "movie"}
    assert {e.domain for e in pools[("en", "news", "any")]} == {"nyt", "movie"}
    assert {e.label for e in pools[("en", "news", "negative")]} == {"negative"}


def test_a_chinese_named_entity_gets_chinese_texts_written_as_chinese_feeds_write_them() -> None:
    chinese = [Example(f"z{i}", "zh-review", f"质量很差，不推荐{i}", -2.0, "negative") for i in range(4)]
    ents = [Entity("ACME", ("Acme",)), Entity("HXBK", ("华信银行",))]
    spec = replace(SCENARIOS["smoke"], entities=None, mention_share=1.0)
    scenario = generate(spec, _texts() + chinese, ents, seed=3, start=_START)
    by_entity: dict[str, list[dict[str, object]]] = {}
    for event in scenario.events:
        by_entity.setdefault(str(event["meta"]["entity"]), []).append(event)  # type: ignore[index]
    assert {e["lang"] for e in by_entity["HXBK"]} == {"zh"} and {e["lang"] for e in by_entity["ACME"]} == {"en"}
    for event in by_entity["HXBK"]:
        text = str(event["text"])
        assert "质量很差" in text and (text.startswith("华信银行：") or text.endswith("#华信银行#"))
    assert all("质量很差" not in str(e["text"]) for e in by_entity["ACME"])


def test_events_are_numbered_once_each_in_draw_order() -> None:
    ents = [Entity("ACME", ("Acme",)), Entity("GLBX", ("Globex",))]
    scenario = generate(SCENARIOS["smoke"], _texts(), ents, seed=3, start=_START)
    numbers = sorted(int(e["id"].rsplit("-", 1)[1]) for e in scenario.events)
    assert numbers == list(range(1, len(scenario.events) + 1))


def test_incident_events_fall_inside_the_incident_window() -> None:
    ents = [Entity("ACME", ("Acme",)), Entity("GLBX", ("Globex",))]
    scenario = generate(SCENARIOS["smoke"], _texts(), ents, seed=3, start=_START)
    truth = scenario.truth()["incidents"][0]
    flagged = [e for e in scenario.events if e["meta"]["incident"]]
    assert flagged and {e["meta"]["entity"] for e in flagged} == {"ACME"}
    stamps = [datetime.fromisoformat(e["published_at"].replace("Z", "+00:00")) for e in flagged]
    assert datetime.fromisoformat(truth["start"]) <= min(stamps) <= max(stamps) < datetime.fromisoformat(truth["end"])


def test_a_chinese_incident_draws_financial_texts_about_its_entity_and_only_an_incident_does() -> None:
    reviews = [Example(f"z{i}", "zh-review", f"质量很差，不推荐{i}", -2.0, "negative") for i in range(4)]
    fin = [Example(f"f{i}", FIN_INCIDENT_DOMAIN, f"{ENTITY_SLOT}逾期未兑付{i}", -2.0, "negative") for i in range(4)]
    ents = [Entity("ACME", ("Acme",)), Entity("HXBK", ("华信银行",))]
    spec = replace(SCENARIOS["smoke"], entities=None, incidents=(Incident("HXBK", 35, 10, 6, 0.85),))
    scenario = generate(spec, _texts() + reviews + fin, ents, seed=3, start=_START)
    drawn = [e for e in scenario.events if "逾期未兑付" in str(e["text"])]
    assert drawn and all(e["meta"]["incident"] == "HXBK" for e in drawn)  # type: ignore[index]
    assert all(str(e["text"]).startswith("华信银行逾期未兑付") and "entities" not in e for e in drawn)


def test_a_chinese_entitys_ordinary_events_draw_calm_financial_texts_in_place_of_reviews_when_given() -> None:
    reviews = [Example(f"z{i}", "zh-review", f"房间很干净{i}", 2.0, "positive") for i in range(4)]
    calm = [Example(f"c{i}", FIN_CALM_DOMAIN, f"{ENTITY_SLOT}发布年报{i}", 0.0, "neutral") for i in range(4)]
    fin = [Example(f"f{i}", FIN_INCIDENT_DOMAIN, f"{ENTITY_SLOT}逾期未兑付{i}", -2.0, "negative") for i in range(4)]
    ents = [Entity("ACME", ("Acme",)), Entity("HXBK", ("华信银行",))]
    spec = replace(SCENARIOS["smoke"], entities=None, incidents=(Incident("HXBK", 35, 10, 6, 0.85),))
    scenario = generate(spec, _texts() + reviews + calm + fin, ents, seed=3, start=_START)
    hxbk = [e for e in scenario.events if e["meta"]["entity"] == "HXBK"]  # type: ignore[index]
    ordinary = [e for e in hxbk if not e["meta"]["incident"]]  # type: ignore[index]
    assert ordinary and all(str(e["text"]).startswith("华信银行发布年报") for e in ordinary)
    assert all(e["meta"]["label"] == "neutral" and "entities" not in e for e in ordinary)  # type: ignore[index]
    # the reviews go unused once financial texts are given
    assert not any("房间很干净" in str(e["text"]) for e in scenario.events)
    incident = [e for e in hxbk if e["meta"]["incident"]]  # type: ignore[index]
    assert {str(e["text"])[:4] for e in incident} == {"华信银行"}
    assert any("逾期未兑付" in str(e["text"]) for e in incident)


def test_an_ordinary_burst_is_a_thread_of_a_few_accounts_and_an_incident_a_crowd() -> None:
    ents = [Entity("ACME", ("Acme",)), Entity("GLBX", ("Globex",))]
    planted = (PlantedBurst("GLBX", 10, 20.0, 15.0),)
    spec = replace(SCENARIOS["smoke"], planted=planted, incidents=(Incident("ACME", 30, 10, multiplier=20),))
    for threads in (True, False):
        scenario = generate(replace(spec, thread_bursts=threads), _texts(), ents, seed=3, start=_START)
        burst = [e for e in scenario.events if e["meta"]["burst"] == "GLBX"]  # type: ignore[index]
        incident = [e for e in scenario.events if e["meta"]["incident"] == "ACME"]  # type: ignore[index]
        assert len(burst) > 60 and len(incident) > 60 and all(e["author"] for e in scenario.events)
        crowd = len({e["author"] for e in incident})
        assert crowd > 0.6 * len(incident)
        voices = len({e["author"] for e in burst})
        assert voices <= THREAD_ACCOUNTS if threads else voices > 0.6 * len(burst)
