"""A watchlist change reaches a running ``radar worker`` without a restart, and a worker without SQL still tags.

The worker re-reads the watchlist in SQL every ``RADAR_WATCHLIST_REFRESH_S`` (15 s by default; 1 s here, so the
test waits for the mechanism, not for the interval). An entity is added in SQL while the worker runs; events
naming it are sent every half second until one comes back tagged with it. The time from the change (committed) to
that first tagged scored event is "the time for a watchlist change to reach the workers" (at most one refresh
interval, plus scoring).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer

from core.domain import Severity
from core.settings import Settings
from core.watchlist import Entity
from localdev.workers import running_worker
from storage.db import make_engine, make_sessionmaker
from storage.watchlist import remove_entity, upsert_entity
from stream.producer import EventProducer

ZORG = Entity("ZORG", ("Zorgon Systems", "Zorgon"), cashtags=("ZRG",), min_severity=Severity.HIGH)


@contextmanager
def scored_reader(settings: Settings) -> Iterator[Callable[[float], list[dict[str, Any]]]]:
    """``poll(seconds)``: the scored events that arrived since the last poll."""
    consumer = KafkaConsumer(
        settings.topics.scored,
        **settings.kafka_python_config(),
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )

    def poll(seconds: float) -> list[dict[str, Any]]:
        batches = consumer.poll(timeout_ms=int(seconds * 1000))
        return [json.loads(record.value) for records in batches.values() for record in records]

    try:
        yield poll
    finally:
        consumer.close()


def _event(event_id: str, text: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "source": "test",
        "kind": "news",
        "text": text,
        "published_at": datetime.now(UTC).isoformat(),
    }


def _first_tagged(
    producer: EventProducer, poll: Callable[[float], list[dict[str, Any]]], prefix: str, text: str, *, timeout_s: float
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Send an event with ``text`` every half second until one comes back scored with ZORG (or time is up)."""
    deadline, sent, seen = time.monotonic() + timeout_s, 0, []
    while time.monotonic() < deadline:
        producer.send_event(_event(f"{prefix}-{sent}", text))
        producer.flush()
        sent += 1
        for scored in poll(0.5):
            seen.append(scored)
            if scored["id"].startswith(prefix) and "ZORG" in scored["entities"]:
                return scored, seen
    return None, seen


def _wait_for(poll: Callable[[float], list[dict[str, Any]]], event_id: str, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for scored in poll(1.0):
            if scored["id"] == event_id:
                return scored
    raise AssertionError(f"{event_id} was not scored within {timeout_s:.0f} s")


def test_an_entity_added_in_sql_reaches_a_running_worker(
    fresh_topics: Callable[..., Settings], sqlite_url: str, unique: str, tmp_path: Path
) -> None:
    """On SQLite: the worker's refresh loop is what is tested; its queries run on both dialects in
    test_watchlist_store."""
    settings = fresh_topics(partitions=1).model_copy(update={"database_url": sqlite_url, "watchlist_refresh_s": 1.0})
    log = tmp_path / "worker.log"
    sessions = make_sessionmaker(engine := make_engine(sqlite_url))
    with running_worker(settings, log, agents="score") as worker, scored_reader(settings) as poll:
        with EventProducer(settings) as producer:
            producer.send_event(_event(f"{unique}-warm", "Zorgon Systems and Acme Corp sign a deal"))
            producer.flush()
            warm = _wait_for(poll, f"{unique}-warm", timeout_s=120)
            assert warm["entities"] == ["ACME"], warm  # seeded from deploy/watchlist.toml; ZORG not watched yet
            with sessions.begin() as session:
                upsert_entity(session, ZORG)
            changed = time.monotonic()
            tagged, _ = _first_tagged(producer, poll, f"{unique}-add", "Zorgon Systems beats forecasts", timeout_s=45)
            added_s = time.monotonic() - changed
            assert tagged is not None and tagged["entities"] == ["ZORG"], log.read_text()[-3000:]
            with sessions.begin() as session:
                remove_entity(session, entity_id="ZORG")
            changed = time.monotonic()
            removed_s = _until_untagged(producer, poll, f"{unique}-rm", timeout_s=45)
        assert worker.poll() is None, log.read_text()[-3000:]
    engine.dispose()
    print(
        f"\nwatchlist change -> the worker's first scored event tagged accordingly: added {added_s:.1f} s, "
        f"removed {removed_s:.1f} s (RADAR_WATCHLIST_REFRESH_S={settings.watchlist_refresh_s:g})"
    )
    assert added_s < 15 and removed_s < 15  # one refresh interval, plus scoring and a loaded machine's slack


def _until_untagged(
    producer: EventProducer, poll: Callable[[float], list[dict[str, Any]]], prefix: str, *, timeout_s: float
) -> float:
    """Seconds until an event naming Zorgon comes back without the ZORG tag."""
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < timeout_s:
        producer.send_event(_event(f"{prefix}-{sent}", "Zorgon Systems misses forecasts"))
        producer.flush()
        sent += 1
        for scored in poll(0.5):
            if scored["id"].startswith(prefix) and scored["entities"] == []:
                return time.monotonic() - started
    raise AssertionError(f"ZORG still tagged {timeout_s:.0f} s after it was removed")


def test_a_worker_without_sql_tags_with_the_file_and_keeps_scoring(
    fresh_topics: Callable[..., Settings], unique: str, tmp_path: Path
) -> None:
    unreachable = "postgresql+psycopg://radar:radar@127.0.0.1:1/radar"  # nothing listens on port 1
    settings = fresh_topics(partitions=1).model_copy(update={"database_url": unreachable})
    log = tmp_path / "worker.log"
    with running_worker(settings, log, agents="score") as worker, scored_reader(settings) as poll:
        with EventProducer(settings) as producer:
            producer.send_event(_event(f"{unique}-1", "Acme Corp and Globex merge"))
            producer.flush()
            scored = _wait_for(poll, f"{unique}-1", timeout_s=120)
        assert worker.poll() is None, log.read_text()[-3000:]
    assert scored["entities"] == ["ACME", "GLBX"]
    text = log.read_text()
    assert "cannot read the watchlist from SQL" in text and "tagging with the watchlist from the file" in text, text
