"""The watchlist in SQL (storage.watchlist) on SQLite and PostgreSQL: seeded once from the TOML file (and not again
once emptied), upserts that say what they did, removal, import; seeding and upserting from several processes at
the same moment (threads with an engine each) leave one seed and no error; the workers' SQL source seeds and reads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.domain import Severity
from core.watchlist import Entity
from storage.db import make_engine, make_sessionmaker
from storage.watchlist import (
    ensure_seeded,
    find_entity,
    import_entities,
    is_seeded,
    list_entities,
    list_watched,
    remove_entity,
    upsert_entity,
)
from stream.entities import load_watchlist
from stream.watchlist import SqlWatchlist

ROOT = Path(__file__).resolve().parents[2]
SEED = load_watchlist(ROOT / "deploy" / "watchlist.toml")
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ZORG = Entity("ZORG", ("Zorgon Systems", "Zorgon"), ("Zorg",), ("ZRG",), Severity.HIGH)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def test_seeded_once_and_not_again_once_emptied(sessions: sessionmaker[Session]) -> None:
    calls = []

    def seed() -> list[Entity]:
        calls.append(1)
        return SEED

    with sessions.begin() as session:
        assert not is_seeded(session)
        assert ensure_seeded(session, seed, now=T0) is True
    with sessions.begin() as session:
        assert list_entities(session) == sorted(SEED, key=lambda e: e.id)
        assert ensure_seeded(session, seed) is False
        for entity in SEED:
            assert remove_entity(session, entity_id=entity.id)
    with sessions.begin() as session:
        assert ensure_seeded(session, seed) is False and list_entities(session) == []
    assert len(calls) == 1  # the file is read only when a seed is due


def test_no_seed_file_yet_leaves_it_unseeded_for_a_later_try(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert ensure_seeded(session, lambda: None) is False and not is_seeded(session)
        assert ensure_seeded(session, lambda: [ZORG]) is True
        assert [e.id for e in list_entities(session)] == ["ZORG"]


def test_upsert_creates_replaces_and_tells_unchanged(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert upsert_entity(session, ZORG, now=T0) == "created"
    with sessions.begin() as session:
        assert upsert_entity(session, ZORG, now=T0 + timedelta(minutes=1)) == "unchanged"
        watched = find_entity(session, entity_id="ZORG")
        assert watched is not None and watched.entity == ZORG and watched.updated_at == T0
    quieter = Entity("ZORG", ("Zorgon",), min_severity=Severity.CRITICAL)
    with sessions.begin() as session:
        assert upsert_entity(session, quieter, now=T0 + timedelta(minutes=2)) == "updated"
    with sessions.begin() as session:
        [watched] = list_watched(session)
        assert watched.entity == quieter and watched.created_at == T0
        assert watched.updated_at == T0 + timedelta(minutes=2)
        assert find_entity(session, entity_id="NOPE") is None


def test_remove_says_whether_it_was_watched(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        upsert_entity(session, ZORG)
        assert remove_entity(session, entity_id="ZORG") is True
        assert remove_entity(session, entity_id="ZORG") is False
        assert list_entities(session) == []


def test_import_upserts_and_leaves_the_others(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        ensure_seeded(session, lambda: SEED)
    acme = next(e for e in SEED if e.id == "ACME")
    changed = Entity("ACME", acme.names, acme.aliases, acme.cashtags, Severity.WARNING)
    glbx = next(e for e in SEED if e.id == "GLBX")
    with sessions.begin() as session:
        counts = import_entities(session, [changed, glbx, ZORG])
    assert (counts.created, counts.updated, counts.unchanged) == (1, 1, 1)
    with sessions.begin() as session:
        entities = {e.id: e for e in list_entities(session)}
    assert len(entities) == len(SEED) + 1 and entities["ACME"].min_severity == Severity.WARNING
    assert entities["ZORG"] == ZORG and entities["INIT"] == next(e for e in SEED if e.id == "INIT")


def _at_once(n: int, url: str, work: Callable[[Session], Any]) -> list[Any]:
    """``work`` in ``n`` threads with an engine each (as separate processes would be), released together."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        engine = make_engine(url)
        try:
            barrier.wait()
            with make_sessionmaker(engine).begin() as session:
                results[i] = work(session)
        except Exception as exc:  # noqa: BLE001 - reported as the thread's result
            results[i] = exc
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_several_processes_seeding_at_once_seed_once(database_url: str, sessions: sessionmaker[Session]) -> None:
    results = _at_once(6, database_url, lambda session: ensure_seeded(session, lambda: SEED))
    assert sorted(results, key=str) == [False] * 5 + [True], results
    with sessions.begin() as session:
        assert len(list_entities(session)) == len(SEED)


def test_several_processes_adding_one_entity_at_once(database_url: str, sessions: sessionmaker[Session]) -> None:
    results = _at_once(6, database_url, lambda session: upsert_entity(session, ZORG))
    assert sorted(results) == ["created"] + ["unchanged"] * 5, results
    with sessions.begin() as session:
        assert list_entities(session) == [ZORG]


def test_the_workers_source_seeds_from_the_file_and_reads(engine: Engine, tmp_path: Path) -> None:
    seed = tmp_path / "watchlist.toml"
    seed.write_text('[[entity]]\nid = "ZORG"\nnames = ["Zorgon"]\nmin_severity = "high"\n')
    source = SqlWatchlist(engine, seed)
    assert source.read() == [Entity("ZORG", ("Zorgon",), min_severity=Severity.HIGH)]
    seed.write_text('[[entity]]\nid = "OTHER"\nnames = ["Other"]\n')
    with make_sessionmaker(engine).begin() as session:
        upsert_entity(session, Entity("GLBX", ("Globex",)))
    assert [e.id for e in source.read()] == ["GLBX", "ZORG"]  # seeded once: the file is not read again
