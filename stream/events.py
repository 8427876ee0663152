"""The raw-event contract's checks (``docs/architecture.md``), and the one function that turns Kafka bytes into a
valid event. The type itself, :class:`core.events.RawEvent`, is re-exported here.

Validation rules (each failure has a reason that goes into the dead-letter envelope):

- the bytes must be UTF-8 and one JSON object, nested at most ``MAX_DEPTH`` deep, with no number beyond what
  JSON can carry (no NaN or Infinity, integers of at most 4,300 digits);
- every string in it, keys included, is Unicode that UTF-8 can encode (no lone surrogates such as ``"\\ud800"``);
- ``id``: string, 1..128 characters; ``source``: non-empty string; ``kind``: "news" or "social" (when absent, the
  raw topic's kind is used);
- ``text``: non-empty after trimming, at most ``MAX_TEXT_CHARS`` characters;
- ``published_at``: RFC 3339 with a time zone (event time; naive times are refused, not guessed), and within the
  event-time policy (:class:`EventTimePolicy`): not ahead of the wall clock by more than the allowed skew, not
  older than the maximum age;
- optional ``lang`` (<= 16), ``entities`` (at most ``MAX_ENTITIES`` ids matching ``ENTITY_ID``), ``author``,
  ``url``, ``meta`` (an object of at most ``MAX_META_BYTES`` as JSON); strings are never coerced from numbers;
  unknown fields are ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from core.errors import EventError
from core.events import ENTITY_ID, MAX_ENTITIES, MAX_META_BYTES, MAX_TEXT_CHARS, RawEvent

__all__ = [
    "ENTITY_ID",
    "MAX_DEPTH",
    "MAX_ENTITIES",
    "MAX_META_BYTES",
    "MAX_TEXT_CHARS",
    "EventTimePolicy",
    "RawEvent",
    "check_json_value",
    "decode_event",
    "parse_json_bytes",
    "validate_event",
]

MAX_DEPTH = 16  # of the whole record: meta is an object one level down


@dataclass(frozen=True)
class EventTimePolicy:
    """Which event times the pipeline can count: a bounded skew ahead of the wall clock, a bounded age.

    A single event stamped in 2099 would otherwise drag the event-time watermark decades ahead and every live
    event after it would be late; one stamped in 1970 would open buckets nobody keeps. ``max_age_s`` 0: no limit.

    >>> policy, now = EventTimePolicy(max_future_s=300, max_age_s=86_400), datetime(2026, 1, 5, 12, tzinfo=UTC)
    >>> policy.violation(datetime(2026, 1, 5, 12, 4, tzinfo=UTC), now) is None
    True
    >>> policy.violation(datetime(2099, 1, 1, tzinfo=UTC), now)
    'published_at 2099-01-01T00:00:00+00:00 is 2303294400 s ahead of the clock (at most 300 s allowed)'
    >>> policy.violation(datetime(1970, 1, 2, tzinfo=UTC), now)
    'published_at 1970-01-02T00:00:00+00:00 is older than the maximum age of 86400 s'
    """

    max_future_s: float = 300.0
    max_age_s: float = 2 * 86_400.0

    def violation(self, published_at: datetime, now: datetime) -> str | None:
        ahead = (published_at - now).total_seconds()
        if ahead > self.max_future_s:
            stamp = published_at.isoformat()
            return (
                f"published_at {stamp} is {ahead:.0f} s ahead of the clock (at most {self.max_future_s:.0f} s allowed)"
            )
        if self.max_age_s and -ahead > self.max_age_s:
            return f"published_at {published_at.isoformat()} is older than the maximum age of {self.max_age_s:.0f} s"
        return None


def check_json_value(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse what JSON allows but the pipeline cannot carry: too deep, lone surrogates, non-finite numbers.

    Iterative, so a hostile nesting cannot exhaust the stack here either.

    >>> check_json_value({"a": ["ok", {"b": 1.5}]})
    >>> check_json_value({"meta": {"x": "\\ud800"}})
    Traceback (most recent call last):
    ...
    core.errors.EventError: meta.x: a string that UTF-8 cannot encode (lone surrogate at 0)
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > max_depth:
            raise EventError(f"{where or 'event'}: nested deeper than {max_depth} levels")
        if isinstance(item, str):
            _encodable(item, where)
        elif isinstance(item, float) and not math.isfinite(item):
            raise EventError(f"{where}: not a finite number")
        elif isinstance(item, dict):
            for key, child in item.items():
                path = f"{where}.{key}" if where else str(key)
                _encodable(str(key), path)
                stack.append((child, path, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


def _encodable(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EventError(f"{where}: a string that UTF-8 cannot encode (lone surrogate at {exc.start})") from None


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(x) for x in item["loc"]) or "event"
        message = item["msg"]
        if item["type"] == "string_too_long" and where == "text":
            message = f"text too long (more than {MAX_TEXT_CHARS} characters)"
        if item["type"] == "string_pattern_mismatch" and where.startswith("entities"):
            message = "an entity id is letters, digits and _.- (at most 64, starting with a letter or digit)"
        parts.append(f"{where}: {message}")
    return "invalid event: " + "; ".join(parts)


def validate_event(
    payload: Any,
    *,
    default_kind: str | None = None,
    policy: EventTimePolicy | None = None,
    now: datetime | None = None,
) -> RawEvent:
    """A decoded JSON value -> RawEvent, or EventError with a reason fit for a dead letter.

    >>> ok = {"id": "a1", "source": "wire", "text": " Shares jump ", "published_at": "2026-01-05T10:00:00Z"}
    >>> e = validate_event(ok, default_kind="news")
    >>> (e.kind, e.text, e.published_at.isoformat())
    ('news', 'Shares jump', '2026-01-05T10:00:00+00:00')
    >>> validate_event({"id": 7, "source": "x", "kind": "news", "text": "t", "published_at": "2026-01-05T10:00:00"})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    core.errors.EventError: invalid event: id: Input should be a valid string; published_at: Input should have ...
    >>> validate_event({**ok, "entities": ["../../etc"]}, default_kind="news")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    core.errors.EventError: invalid event: entities.0: an entity id is letters, digits and _.- ...
    >>> validate_event(ok, default_kind="news", policy=EventTimePolicy(max_age_s=3600),
    ...                now=datetime(2026, 1, 6, tzinfo=UTC))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    core.errors.EventError: published_at 2026-01-05T10:00:00+00:00 is older than the maximum age of 3600 s
    """
    if not isinstance(payload, dict):
        raise EventError(f"not a JSON object (got {type(payload).__name__})")
    check_json_value(payload)
    if default_kind and "kind" not in payload:
        payload = {**payload, "kind": default_kind}
    try:
        event = RawEvent.model_validate(payload)
    except ValidationError as exc:
        raise EventError(_reason(exc)) from None
    if policy is not None:
        why = policy.violation(event.published_at, now or datetime.now(UTC))
        if why:
            raise EventError(why)
    return event


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_bytes(raw: bytes | None) -> Any:
    """UTF-8 JSON bytes -> value, or EventError with the reason (one wording for Kafka and HTTP alike).

    >>> parse_json_bytes(b"\\xff")
    Traceback (most recent call last):
    ...
    core.errors.EventError: undecodable bytes: not UTF-8 (invalid start byte at byte 0)
    >>> parse_json_bytes(b"[" * 5000 + b"]" * 5000)
    Traceback (most recent call last):
    ...
    core.errors.EventError: not JSON the pipeline can carry: nested too deep
    >>> parse_json_bytes(b'{"n": ' + b"9" * 5000 + b"}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    core.errors.EventError: not JSON the pipeline can carry: Exceeds the limit (4300 digits) ...
    """
    if raw is None:
        raise EventError("empty message (no value)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError(f"undecodable bytes: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise EventError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise EventError("not JSON the pipeline can carry: nested too deep") from None
    except ValueError as exc:  # an integer beyond Python's digit limit, NaN, Infinity
        raise EventError(f"not JSON the pipeline can carry: {exc}") from None


def decode_event(
    raw: bytes | None,
    *,
    default_kind: str | None = None,
    policy: EventTimePolicy | None = None,
    now: datetime | None = None,
) -> RawEvent:
    """Kafka message bytes -> RawEvent; every way bytes can be wrong becomes an EventError with its reason."""
    return validate_event(parse_json_bytes(raw), default_kind=default_kind, policy=policy, now=now)
