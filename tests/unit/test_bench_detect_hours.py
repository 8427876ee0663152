"""bench.detect's hour sweep: the plan (which scenarios at which start hours, with which seeds) and its figures,
collected from the stream's detectors run by run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bench.detect import ANY, DETECTORS, HOURLY, START, Run, assess, gold, plan, run_detectors
from bench.detect_hours import HourSweep, start_hours
from inference.dataset import Example
from stream.entities import Entity


def test_the_sweep_runs_smoke_and_demo_at_every_hour_with_one_seed_each_then_the_days() -> None:
    runs = plan(days=2, hours=24)
    swept = [r for r in runs if r.hour is not None]
    assert [(r.scenario, r.hour) for r in swept] == [(name, h) for name, _ in HOURLY for h in range(24)]
    assert all(r.start == START + timedelta(hours=r.hour or 0) for r in swept)
    assert {r.scenario: r.seed for r in swept} == dict(HOURLY) and len({(r.scenario, r.seed) for r in swept}) == 2
    days = ["incident-day #0", "incident-day #1", "clean-day #0", "clean-day #1", "volume-day #0", "volume-day #1"]
    assert [r.label for r in runs[-6:]] == days
    assert all(r.hour is None for r in runs[-6:])


def test_one_start_hour_is_the_former_single_run_at_nine() -> None:
    assert [(r.label, r.start.hour) for r in plan(days=0, hours=1)] == [("smoke 09:00", 9), ("demo 09:00", 9)]
    with pytest.raises(ValueError, match="1 to 24"):
        start_hours(25)


def _texts() -> list[Example]:
    rated = [("tweets", 2.0, "positive"), ("tweets", 0.0, "neutral"), ("nyt", -2.0, "negative")] * 4
    rated += [("movie", 2.0, "positive"), ("movie", -2.0, "negative"), ("movie", 0.0, "neutral")] * 4
    return [Example(str(i), domain, f"text {i}", r, label) for i, (domain, r, label) in enumerate(rated)]


def test_the_sweep_collects_each_incidents_delay_per_detector_and_start_hour() -> None:
    watchlist = [Entity("ACME", ("Acme",)), Entity("GLBX", ("Globex",)), Entity("INIT", ("Initech",))]
    sweep = HourSweep((*DETECTORS, ANY))
    for hour in (4, 16):
        run = Run(f"smoke {hour:02d}:00", "smoke", 11, START + timedelta(hours=hour), hour)
        scenario = run.build(_texts(), watchlist)
        figures = assess(scenario, run_detectors(scenario, gold), {})
        (incident,) = figures["incidents"]
        assert incident["entity"] == "ACME" and 0 < incident["events_before"] < len(scenario.events)
        assert set(incident["delays"]) <= {*DETECTORS, ANY}
        sweep.add(run.scenario, hour, figures)
    summary = sweep.summary()
    assert summary["hours"] == [4, 16] and list(summary["incidents"]) == ["smoke ACME"]
    anyone = summary["incidents"]["smoke ACME"][ANY]
    assert anyone["detected"] == "2/2" and anyone["missed_hours"] == []  # a 60x storm, 85% negative
    assert anyone["median_delay_min"] <= anyone["worst_delay_min"] <= 15
    grid = sweep.grid_rows()
    assert [row[0] for row in grid] == ["smoke ACME: events before", *(f"smoke ACME: {d}" for d in (*DETECTORS, ANY))]
    assert all(len(row) == 3 for row in grid)


def test_a_planted_burst_is_drawn_as_an_ordinary_burst_and_its_alerts_are_counted() -> None:
    from bench.detect import planted_alerts
    from localdev.scenarios import PlantedBurst, ScenarioSpec, generate

    spec = ScenarioSpec("t", 120, 2.0, entities=("ACME",), bursts=False, planted=(PlantedBurst("ACME", 60, 5.0, 7.3),))
    scenario = generate(spec, _texts(), [Entity("ACME", ("Acme",))], seed=3, start=START)
    (burst,) = scenario.truth()["bursts"]
    assert (burst["entity"], burst["start_min"], burst["peak"]) == ("ACME", 60, 5.0)
    minute = [int((START + timedelta(minutes=m)).timestamp() // 60) for m in (50, 60)]
    per = [sum(1 for e in scenario.events if e["published_at"].startswith(_iso(m))) for m in minute]
    assert sum(e["meta"]["burst"] == "ACME" for e in scenario.events) > 0 and per[1] > per[0]
    inside = {"entity": "ACME", "detector": "volume_spike", "window_end": burst["start"]}  # at its start: not yet
    after = {**inside, "window_end": (START + timedelta(minutes=63)).isoformat()}
    elsewhere = {**after, "entity": "GLBX"}
    assert planted_alerts(scenario, [inside, after, elsewhere]) == {"volume_spike": 1, ANY: 1}


def _iso(minute: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(minute * 60, UTC).isoformat()[:16]
