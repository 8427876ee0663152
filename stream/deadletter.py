"""The dead-letter envelope: the original bytes, why they were refused, and where they came from.

Nothing is lost: ``original_b64`` holds the exact bytes (also when they are not UTF-8), so a record can be
repaired and replayed; ``original_text`` is there for people reading the topic when the bytes were text.

:func:`dead_letter` builds any envelope; :func:`refused` is the one for a record consumed from Kafka (the score and
aggregate agents), which says where it stays: topic, partition, offset and key.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Protocol

from pydantic import BaseModel

__all__ = ["Consumed", "DeadLetter", "dead_letter", "refused"]


class DeadLetter(BaseModel):
    reason: str
    stage: str  # "validate" (score agent), "ingest" (HTTP API), "replay"
    source_topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    original_b64: str
    original_text: str | None = None
    failed_at: str

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(), ensure_ascii=False).encode("utf-8")

    def original(self) -> bytes:
        return base64.b64decode(self.original_b64)

    def without_original(self, why: str) -> DeadLetter:
        """The envelope minus the original bytes, for a record too large even for the dead-letter topic; the
        original stays in its source topic at the recorded partition and offset."""
        return self.model_copy(
            update={
                "original_b64": "",
                "reason": f"{self.reason} [original not copied: {why}; it stays at "
                f"{self.source_topic}/{self.partition}@{self.offset}]",
            }
        )


def _printable(text: str) -> str:
    """``text`` with anything UTF-8 cannot encode written as an escape, so the envelope itself always encodes.

    >>> _printable("meta.\\ud800x")
    'meta.\\\\ud800x'
    """
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def dead_letter(
    original: bytes | None,
    reason: str,
    *,
    stage: str,
    source_topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    key: bytes | str | None = None,
    now: datetime | None = None,
) -> DeadLetter:
    """Build the envelope.

    >>> d = dead_letter(b"\\xff{", "undecodable bytes", stage="validate", source_topic="radar.raw.news",
    ...                 partition=2, offset=41, now=datetime(2026, 1, 1, tzinfo=UTC))
    >>> d.original() == b"\\xff{", d.original_text, d.failed_at
    (True, None, '2026-01-01T00:00:00+00:00')
    """
    raw = original or b""
    reason = _printable(reason)  # a reason may quote the hostile part (a key with a lone surrogate, say)
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    elif key is not None:
        key = _printable(key)
    return DeadLetter(
        reason=reason,
        stage=stage,
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        key=key,
        original_b64=base64.b64encode(raw).decode("ascii"),
        original_text=text[:2000] if text is not None else None,
        failed_at=(now or datetime.now(UTC)).isoformat(),
    )


class Consumed(Protocol):
    """A record as consumed from Kafka (:class:`stream.scoring.Incoming`): its bytes and where it stays."""

    @property
    def value(self) -> bytes | None: ...

    @property
    def key(self) -> bytes | None: ...

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


def refused(record: Consumed, reason: str, *, stage: str, now: datetime | None = None) -> DeadLetter:
    """The envelope of a consumed record that ``stage`` refused, saying where the original stays.

    >>> from stream.scoring import Incoming
    >>> d = refused(Incoming(b"{", b"k1", "radar.scored", 3, 17), "unreadable", stage="aggregate")
    >>> d.stage, d.source_topic, d.partition, d.offset, d.key, d.original()
    ('aggregate', 'radar.scored', 3, 17, 'k1', b'{')
    """
    return dead_letter(
        record.value,
        reason,
        stage=stage,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        now=now,
    )
