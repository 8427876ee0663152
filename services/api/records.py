"""An ingest body -> its records, at a cost bounded by the body's caps whatever the body holds.

A hostile body must not cost more than a legitimate one of the same size: the record cap is checked while the
records are cut out (a 5 MB ``[1,1,...]`` stops at record ``max_records + 1``, before millions of values or
rejections exist), nothing recurses on the client's nesting, and every failure of Python's JSON decoder (deep
nesting raises ``RecursionError``, an integer over 4,300 digits ``ValueError``) becomes a per-record reason
instead of a 500. Each record keeps its exact bytes as sent, so a refused one is dead-lettered as it came.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from core.errors import EventError, RequestError

__all__ = ["Record", "TooManyRecords", "is_ndjson", "split_body"]

_WS = re.compile(r"[ \t\n\r]*")
_LINE = re.compile(rb"[^\r\n]+")
_DECODER = json.JSONDecoder()


class TooManyRecords(RequestError):
    """The body holds more than ``limit`` records (HTTP 413): refused whole, nothing produced."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"more than {limit} records in one body (RADAR_INGEST_MAX_RECORDS); split it")


@dataclass(frozen=True)
class Record:
    """One record of a body: its bytes as sent, and the decoded value or why it could not be decoded."""

    raw: bytes
    value: Any = None
    error: str | None = None


def is_ndjson(content_type: str) -> bool:
    """``application/x-ndjson`` and its aliases (JSON Lines); everything else is read as JSON."""
    lowered = content_type.lower()
    return "ndjson" in lowered or "jsonlines" in lowered or "json-seq" in lowered


def split_body(body: bytes, content_type: str, *, max_records: int) -> list[Record]:
    """The records of ``body``: NDJSON lines, a JSON array's elements, or the one JSON value.

    Raises :class:`TooManyRecords` as soon as record ``max_records + 1`` is reached. A JSON body that cannot be
    decoded at all is one record carrying the reason (the client gets it per record, the body is dead-lettered).

    >>> [r.value for r in split_body(b'[{"a": 1}, 2]', "application/json", max_records=5)]
    [{'a': 1}, 2]
    >>> [r.raw for r in split_body(b'{"a": 1}\\n\\n[2]', "application/x-ndjson", max_records=5)]
    [b'{"a": 1}', b'[2]']
    >>> split_body(b"[" + b"1," * 10 + b"1]", "application/json", max_records=5)
    Traceback (most recent call last):
    ...
    services.api.records.TooManyRecords: more than 5 records in one body (RADAR_INGEST_MAX_RECORDS); split it
    """
    if is_ndjson(content_type):
        return _bounded(_ndjson(body), max_records)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [Record(body, error=f"undecodable bytes: not UTF-8 ({exc.reason} at byte {exc.start})")]
    start = _WS.match(text).end()  # type: ignore[union-attr]  # matches the empty string at worst
    if text.startswith("[", start):
        try:
            return _bounded(_array(text, start), max_records)
        except _Unreadable as exc:
            return [Record(body, error=exc.reason)]
    return [_one(body, text)]


class _Unreadable(EventError):
    """A body (or a record of it) that cannot be read as JSON the pipeline can carry."""


def _bounded(records: Iterator[Record], max_records: int) -> list[Record]:
    out: list[Record] = []
    for record in records:
        if len(out) == max_records:
            raise TooManyRecords(max_records)
        out.append(record)
    return out


def _ndjson(body: bytes) -> Iterator[Record]:
    """One record per non-blank line; each line decodes (or fails) on its own, so one bad line costs only itself."""
    for match in _LINE.finditer(body):
        line = match.group()
        if line.strip():
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield Record(line, error=f"undecodable bytes: not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            yield _one(line, text)


def _one(raw: bytes, text: str) -> Record:
    try:
        return Record(raw, _decode(text, whole=True))
    except _Unreadable as exc:
        return Record(raw, error=exc.reason)


def _array(text: str, start: int) -> Iterator[Record]:
    """The elements of the JSON array at ``text[start]``, one at a time (so the record cap stops the work)."""
    index = _WS.match(text, start + 1).end()  # type: ignore[union-attr]
    if text.startswith("]", index):
        _expect_end(text, index + 1)
        return
    for number in itertools.count():
        try:
            value, end = _decode_at(text, index)
        except _Unreadable as exc:
            raise _Unreadable(f"record {number} of the array: {exc.reason}") from None
        yield Record(text[index:end].encode("utf-8"), value)
        index = _WS.match(text, end).end()  # type: ignore[union-attr]
        if text.startswith(",", index):
            index = _WS.match(text, index + 1).end()  # type: ignore[union-attr]
            continue
        if text.startswith("]", index):
            _expect_end(text, index + 1)
            return
        raise _Unreadable(f"not JSON: expected ',' or ']' at character {index}")


def _expect_end(text: str, index: int) -> None:
    rest = _WS.match(text, index).end()  # type: ignore[union-attr]
    if rest != len(text):
        raise _Unreadable(f"not JSON: extra data at character {rest}")


def _decode(text: str, *, whole: bool) -> Any:
    start = _WS.match(text).end()  # type: ignore[union-attr]
    value, end = _decode_at(text, start)
    if whole:
        _expect_end(text, end)
    return value


def _decode_at(text: str, index: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, index)
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise _Unreadable("not JSON the pipeline can carry: nested too deep") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise _Unreadable(f"not JSON the pipeline can carry: {exc}") from None
