"""The workers' live watchlist (stream.watchlist.LiveWatchlist) with fake sources, no SQL: a change is picked up
by the next refresh, the automaton is rebuilt off the event loop and only when what tagging depends on changed,
an unreadable source keeps the last watchlist (one warning per problem), and at start the TOML fallback is used
when the source fails or does not answer in time."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from core.domain import Severity
from core.errors import StorageError
from core.watchlist import Entity
from stream.entities import EntityMatcher
from stream.watchlist import LiveWatchlist

ACME = Entity("ACME", ("Acme",), cashtags=("ACME",))
GLBX = Entity("GLBX", ("Globex",))
NEW = Entity("ZORG", ("Zorgon",))


class FakeSource:
    """A watchlist that says what it is told to, or raises ``error`` while one is set."""

    def __init__(self, entities: list[Entity], name: str = "fake SQL") -> None:
        self.entities, self.name = entities, name
        self.error: Exception | None = None
        self.reads = 0
        self.block: threading.Event | None = None

    def read(self) -> list[Entity]:
        self.reads += 1
        if self.block is not None:
            self.block.wait(5)
        if self.error is not None:
            raise self.error
        return list(self.entities)


@pytest.fixture(autouse=True)
def builds(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Every automaton the live watchlist builds: True for one built off the event loop's thread."""
    made: list[bool] = []
    loop_thread = threading.current_thread()

    def counting(entities: list[Entity]) -> EntityMatcher:
        made.append(threading.current_thread() is not loop_thread)
        return EntityMatcher(entities)

    monkeypatch.setattr("stream.watchlist.EntityMatcher", counting)
    return made


def live(source: FakeSource, fallback: FakeSource | None = None, **kwargs: Any) -> LiveWatchlist:
    return LiveWatchlist(source, fallback=fallback, **kwargs)


async def test_ready_loads_the_source_and_tags_with_it(builds: list[bool]) -> None:
    source = FakeSource([ACME, GLBX])
    watchlist = live(source)
    assert watchlist.tag("Acme and Globex") == []  # nothing loaded yet: tags nothing, never fails
    await asyncio.gather(watchlist.ready(), watchlist.ready(), watchlist.ready())  # the agent's instances
    assert watchlist.tag("Acme and Globex, $ACME") == ["ACME", "GLBX"]
    assert watchlist.origin == "fake SQL" and source.reads == 1
    assert builds == [True]  # built once, in a thread, not on the event loop


async def test_a_change_is_picked_up_by_the_next_refresh_and_only_then_rebuilt(builds: list[bool]) -> None:
    source = FakeSource([ACME])
    watchlist = live(source)
    await watchlist.ready()
    assert await watchlist.refresh() is False and len(builds) == 1  # same content: no rebuild
    source.entities = [ACME, NEW]
    assert watchlist.tag("Zorgon rises") == []
    assert await watchlist.refresh() is True
    assert watchlist.tag("Zorgon rises") == ["ZORG"] and builds == [True, True]
    source.entities = [NEW]
    assert await watchlist.refresh() is True
    assert watchlist.tag("Acme and Zorgon") == ["ZORG"]


async def test_a_sensitivity_change_replaces_the_thresholds_without_a_rebuild(builds: list[bool]) -> None:
    source = FakeSource([ACME, GLBX])
    watchlist = live(source)
    await watchlist.ready()
    assert watchlist.thresholds == {}  # info is everyone's default: not a threshold
    source.entities = [Entity("ACME", ("Acme",), cashtags=("ACME",), min_severity=Severity.HIGH), GLBX]
    assert await watchlist.refresh() is True
    assert watchlist.thresholds == {"ACME": Severity.HIGH} and len(builds) == 1


async def test_an_unreadable_source_keeps_the_last_watchlist_and_warns_once_per_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FakeSource([ACME])
    watchlist = live(source, fallback=FakeSource([GLBX], name="the file"))
    await watchlist.ready()
    caplog.set_level(logging.INFO, logger="radar.watchlist")
    source.error = StorageError("connection refused")
    for _ in range(3):
        assert await watchlist.refresh() is False
        assert watchlist.tag("Acme") == ["ACME"] and watchlist.origin == "fake SQL"  # no fallback after the start
    source.error = StorageError("schema is at 0003, this release needs 0004")
    await watchlist.refresh()
    source.error = None
    source.entities = [ACME, NEW]
    assert await watchlist.refresh() is True and watchlist.tag("Zorgon") == ["ZORG"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3, warnings  # one per problem, and one when it is back
    assert "connection refused" in warnings[0] and "keeping the one from fake SQL" in warnings[0]
    assert "0003" in warnings[1] and "read from fake SQL again" in warnings[2]


async def test_at_start_an_unreadable_source_falls_back_to_the_file_until_it_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FakeSource([ACME, NEW])
    source.error = StorageError("connection refused")
    watchlist = live(source, fallback=FakeSource([ACME], name="the file w.toml"))
    caplog.set_level(logging.WARNING, logger="radar.watchlist")
    await watchlist.ready()
    assert watchlist.origin == "the file w.toml" and watchlist.tag("Acme, Zorgon") == ["ACME"]
    assert any("tagging with the watchlist from the file w.toml" in r.getMessage() for r in caplog.records)
    await watchlist.refresh()  # still away: the file's watchlist stays
    assert watchlist.origin == "the file w.toml"
    source.error = None
    assert await watchlist.refresh() is True
    assert watchlist.origin == "fake SQL" and watchlist.tag("Acme, Zorgon") == ["ACME", "ZORG"]


async def test_at_start_a_source_that_does_not_answer_in_time_falls_back_too() -> None:
    source = FakeSource([ACME, NEW])
    source.block = threading.Event()
    watchlist = live(source, fallback=FakeSource([GLBX], name="the file"), first_read_timeout_s=0.1)
    await watchlist.ready()
    assert watchlist.origin == "the file" and watchlist.tag("Globex") == ["GLBX"]
    source.block.set()
    assert await watchlist.refresh() is True and watchlist.origin == "fake SQL"


async def test_with_neither_source_nor_file_it_tags_nothing_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    source = FakeSource([ACME])
    source.error = StorageError("connection refused")
    fallback = FakeSource([], name="the file")
    fallback.error = OSError("no such file")
    watchlist = live(source, fallback=fallback)
    caplog.set_level(logging.WARNING, logger="radar.watchlist")
    await watchlist.ready()
    await watchlist.refresh()
    assert watchlist.origin is None and watchlist.tag("Acme") == []
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "tagging nothing" in errors[0]  # once, not at every refresh
    source.error = None
    await watchlist.refresh()
    assert watchlist.tag("Acme") == ["ACME"]


async def test_tagging_during_a_rebuild_uses_the_previous_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    """The swap is one assignment: while the new automaton is being built (in a thread), the old one tags."""
    source = FakeSource([ACME])
    gate = threading.Event()
    gate.set()

    def slow(entities: list[Entity]) -> EntityMatcher:
        gate.wait(5)
        return EntityMatcher(entities)

    monkeypatch.setattr("stream.watchlist.EntityMatcher", slow)
    watchlist = live(source)
    await watchlist.ready()
    gate.clear()
    source.entities = [NEW]
    refreshing = asyncio.create_task(watchlist.refresh())
    await asyncio.sleep(0.05)
    assert watchlist.tag("Acme, Zorgon") == ["ACME"]  # the event loop is free and the old matcher still in use
    gate.set()
    assert await refreshing is True
    assert watchlist.tag("Acme, Zorgon") == ["ZORG"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), ValueError(""), TimeoutError()])
async def test_no_error_of_the_source_escapes_a_refresh(error: Exception) -> None:
    source = FakeSource([ACME])
    watchlist = live(source)
    await watchlist.ready()
    source.error = error
    assert await watchlist.refresh() is False and watchlist.tag("Acme") == ["ACME"]


async def test_the_score_stage_tags_with_the_refreshed_watchlist_between_batches() -> None:
    """What the worker wires: the stage's ``tag`` is the live watchlist's, so the next batch after a refresh is
    tagged with the new entities (fake model and sink from the score stage's own tests: no service)."""
    from stream.score_stage import ScoreStage
    from tests.unit.test_score_stage import DEAD, NEWS, NOW, SCORED, FakeModel, FakeSink, Sleeps, incoming, raw

    source = FakeSource([ACME])
    watchlist = live(source)
    await watchlist.ready()
    sink = FakeSink()
    stage = ScoreStage(
        FakeModel(),
        sink,
        scored_topic=SCORED,
        deadletter_topic=DEAD,
        kind_of_topic={NEWS: "news"},
        tag=watchlist.tag,
        clock=lambda: NOW,
        sleep=Sleeps(),
    )
    await stage.start()
    await stage.score_batch(incoming(raw("a", "Zorgon and Acme")))
    source.entities = [ACME, NEW]
    await watchlist.refresh()
    await stage.score_batch(incoming(raw("b", "Zorgon and Acme")))
    assert [(s["id"], s["entities"]) for s in sink.to(SCORED)] == [("a", ["ACME"]), ("b", ["ZORG", "ACME"])]
