"""The detector seam: one protocol, one registry, one enum of wire names. A new detector is one class and one
registry line; ``stream/detect.py`` runs it (and stores, restores, resolves it) without naming it."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Self

from core.domain import DetectorName, MinuteStats, Severity, minute_start
from stream import detect
from stream.detect import STATE_VERSION, EntityDetectors, detect_minute, warmed
from stream.detectors import REGISTRY, AlertDecision, Detector, Signal
from stream.detectors.builtin import VolumeSpikeDetector
from stream.detectors.registry import registry

QUIET = MinuteStats(n=4, negative=1, neutral=1, positive=2, total=0.5, total_sq=1.6, voices=50)
STORM = MinuteStats(n=40, negative=34, neutral=4, positive=2, total=-26.0, total_sq=24.0, voices=400)
DAY = 1440


@dataclass
class Crowded:
    """A toy detector: an alert when a minute holds at least ``limit`` events; normal again below it."""

    # a real new detector adds its own member to DetectorName (an enum cannot grow inside a test): it borrows one
    name: ClassVar[DetectorName] = DetectorName.SENTIMENT_SHIFT
    version: ClassVar[int] = 1
    counts_only: ClassVar[bool] = True

    limit: int = 10
    crowded: bool = False

    @property
    def window_minutes(self) -> int:
        return 2

    def observe(self, stats: MinuteStats, at: float) -> Signal:
        was, self.crowded = self.crowded, stats.n >= self.limit
        return Signal(float(stats.n), float(self.crowded), stats.n, self.limit, True, alert=self.crowded and not was)

    def decide(self, signal: Signal) -> AlertDecision:
        return AlertDecision(signal.alert, self.crowded, Severity.WARNING)

    def explain(self, entity: str, signal: Signal, end: datetime) -> str:
        return f"{entity}: {signal.observed:.0f} items in a minute, the limit is {signal.expected:.0f}"

    def to_state(self) -> dict[str, Any]:
        return {"limit": self.limit, "crowded": self.crowded}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls(**state)


TOYS = registry(VolumeSpikeDetector, Crowded)  # the one registry line


def test_a_registered_toy_detector_alerts_resolves_and_persists_through_detect_minute() -> None:
    detectors = EntityDetectors.fresh(TOYS)
    stream = [MinuteStats(n=3)] * 10 + [MinuteStats(n=12)] * 2 + [MinuteStats(n=3)] * 10
    opened, resolved = [], []
    for minute, stats in enumerate(stream):
        if minute == 11:  # a restart in the middle of the episode
            detectors = EntityDetectors.from_state(json.loads(json.dumps(detectors.to_state())), TOYS)
        found = detect_minute(detectors, "ACME", minute, stats, resolve_after=3)
        opened += [(minute, a) for a in found.opened if a.detector is Crowded.name]
        resolved += [(minute, a) for a in found.resolved]
    [(at, alert)] = opened
    assert at == 10 and alert.message == "ACME: 12 items in a minute, the limit is 10"
    assert (alert.window_start, alert.window_end) == (minute_start(9), minute_start(11))
    assert alert.key == "ACME:sentiment_shift:1970-01-01T00:09Z" and alert.severity is Severity.WARNING
    assert [(m, a.key) for m, a in resolved] == [(14, alert.key)], "normal from minute 12: resolved after 3 minutes"
    assert list(detectors.to_state()["detectors"]) == ["volume_spike", "sentiment_shift"]


def _code_strings_and_names(path: Path) -> set[str]:
    """String constants (docstrings aside) and attribute names in a module's code."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    found -= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) in docstrings}
    return found | {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}


def test_detect_py_names_no_detector() -> None:
    """What a new detector does not have to edit: the module that runs them all."""
    named = _code_strings_and_names(Path(detect.__file__))
    assert not named & ({name.value for name in DetectorName} | {name.name for name in DetectorName})


def test_every_wire_name_has_one_registered_detector_that_keeps_the_protocol() -> None:
    assert set(REGISTRY) == set(DetectorName)
    for name, cls in REGISTRY.items():
        detector: Detector = cls()
        assert cls.name is name and isinstance(cls.version, int) and isinstance(cls.counts_only, bool)
        signal = detector.observe(QUIET, 0.0)
        assert isinstance(signal, Signal) and isinstance(detector.decide(signal), AlertDecision)
        assert detector.explain("ACME", signal, minute_start(1)).startswith("ACME: ")
        assert detector.window_minutes >= 1
        state = json.loads(json.dumps(detector.to_state()))
        assert cls.from_state(state).to_state() == detector.to_state()


def _mid_storm() -> EntityDetectors:
    """Every detector with an alert open: a day of counts (the volume detectors' warm-up), an hour of quiet, two
    minutes of storm; its last minute is DAY + 61."""
    detectors = warmed([QUIET.n] * DAY, first_minute=0)
    for minute, stats in enumerate([QUIET] * 60 + [STORM] * 2, start=DAY):
        detect_minute(detectors, "ACME", minute, stats)
    assert all(lifecycle.alerts for lifecycle in detectors.open_alerts.values())
    return detectors


def test_a_detector_state_of_another_version_is_learnt_afresh_and_its_open_alerts_kept() -> None:
    before = _mid_storm()
    state = json.loads(json.dumps(before.to_state()))
    state["detectors"]["negative_surge"]["version"] = 99  # what a later release of the detector stored
    after = EntityDetectors.from_state(state)
    surge = DetectorName.NEGATIVE_SURGE
    assert after.detectors[surge].to_state() == REGISTRY[surge]().to_state()
    assert after.open_alerts[surge] == before.open_alerts[surge]
    for name in REGISTRY:
        if name is not surge:
            assert after.detectors[name].to_state() == before.detectors[name].to_state()


def test_the_open_alerts_of_a_detector_no_longer_registered_resolve_at_the_next_minute() -> None:
    before = _mid_storm()
    held = before.open_alerts[DetectorName.SENTIMENT_SHIFT].alerts
    without = registry(*(cls for name, cls in REGISTRY.items() if name is not DetectorName.SENTIMENT_SHIFT))
    after = EntityDetectors.from_state(json.loads(json.dumps(before.to_state())), without)
    assert after.retired == held and DetectorName.SENTIMENT_SHIFT not in after.detectors
    again = EntityDetectors.from_state(after.to_state(), without)
    assert again.retired == held, "kept until a minute resolves them"
    found = detect_minute(again, "ACME", DAY + 62, STORM)
    retired = [a for a in found.resolved if a.detector is DetectorName.SENTIMENT_SHIFT]
    assert [a.key for a in retired] == [a.key for a in held] and {a.resolved_at for a in retired} == {
        minute_start(DAY + 63)
    }
    assert again.retired == [] and again.to_state()["retired"] == []


def test_a_state_of_an_unknown_layout_or_name_is_not_misread() -> None:
    state = _mid_storm().to_state()
    later = EntityDetectors.from_state({**state, "version": STATE_VERSION + 1})  # a later release's layout
    assert later.to_state() == EntityDetectors().to_state()
    state["detectors"]["tone_drift"] = {"version": 1, "state": {}, "open_alerts": {"alerts": [{}], "normal_for": 0}}
    loaded = EntityDetectors.from_state(state)  # a later release's detector, read after a rollback: dropped
    assert loaded.to_state() == EntityDetectors.from_state(_mid_storm().to_state()).to_state()
