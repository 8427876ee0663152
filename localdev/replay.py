"""``radar replay``: send a file (JSONL or CSV) or a generated scenario to the raw topics.

Pacing: as fast as possible, at ``rate`` events/s, or in compressed event time (``speedup`` x: one simulated
minute in 60/speedup seconds). Records that break the event contract are not sent to the raw topics but to the
dead-letter topic with their reason (stage "replay"), so a replay never loses a record either.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.errors import EventError
from stream.deadletter import dead_letter
from stream.events import parse_json_bytes, validate_event
from stream.producer import EventProducer

__all__ = ["ReplaySummary", "read_records", "replay"]


@dataclass
class ReplaySummary:
    sent: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def read_records(path: Path) -> Iterator[bytes | dict[str, Any]]:
    """JSONL lines as raw bytes (validated later, so a bad line is dead-lettered as it was) or CSV rows as dicts.

    CSV columns are the event's fields; ``entities`` is ``;``-separated and ``meta`` a JSON object.
    """
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                record: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
                if "entities" in record:
                    record["entities"] = [e.strip() for e in str(record["entities"]).split(";") if e.strip()]
                if "meta" in record:
                    record["meta"] = json.loads(record["meta"])
                yield record
        return
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip(b"\r\n")


class _Pacer:
    def __init__(self, rate: float | None, speedup: float | None) -> None:
        self.rate, self.speedup = rate, speedup
        self.started = time.monotonic()
        self.first_event_time: datetime | None = None
        self.count = 0

    def wait(self, published_at: datetime | None) -> None:
        self.count += 1
        target = None
        if self.rate:
            target = self.started + self.count / self.rate
        elif self.speedup and published_at is not None:
            self.first_event_time = self.first_event_time or published_at
            target = self.started + (published_at - self.first_event_time).total_seconds() / self.speedup
        if target is not None:
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def replay(
    records: Iterable[bytes | dict[str, Any]],
    producer: EventProducer,
    *,
    rate: float | None = None,
    speedup: float | None = None,
    total: int | None = None,
    progress: Callable[[str, int, int, dict[str, float]], None] | None = None,
    origin: str = "replay",
) -> ReplaySummary:
    summary = ReplaySummary()
    pacer = _Pacer(rate, speedup)
    started = time.monotonic()
    failures: list[Exception] = []

    def on_error(exc: Exception) -> None:
        failures.append(exc)

    for index, record in enumerate(records, 1):
        raw = record if isinstance(record, bytes) else json.dumps(record, ensure_ascii=False).encode("utf-8")
        try:
            event = validate_event(parse_json_bytes(raw) if isinstance(record, bytes) else record)
        except EventError as exc:
            producer.send_dead_letter(dead_letter(raw, exc.reason, stage="replay", source_topic=origin))
            summary.failed += 1
        else:
            pacer.wait(event.published_at)
            producer.send_event(event).add_errback(on_error)
            summary.sent += 1
        if progress and (index % 500 == 0 or index == total):
            elapsed = max(time.monotonic() - started, 1e-9)
            progress("replay", index, total or index, {"events/s": summary.sent / elapsed})
    producer.flush()
    summary.sent -= len(failures)
    summary.failed += len(failures)
    summary.seconds = time.monotonic() - started
    return summary
