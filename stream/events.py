"""The raw-event contract of ARCHITECTURE.md, and the one function that turns Kafka bytes into a valid event.

Validation rules (each failure has a reason that goes into the dead-letter envelope):

- the bytes must be UTF-8 and one JSON object;
- ``id``: string, 1..128 characters; ``source``: non-empty string; ``kind``: "news" or "social" (when absent, the
  raw topic's kind is used);
- ``text``: non-empty after trimming, at most ``MAX_TEXT_CHARS`` characters;
- ``published_at``: RFC 3339 with a time zone (event time; naive times are refused, not guessed);
- optional ``lang`` (<= 16), ``entities`` (list of strings <= 64 each, <= 50 of them), ``author``, ``url``,
  ``meta`` (object); strings are never coerced from numbers; unknown fields are ignored.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from services.errors import EventError

__all__ = ["MAX_TEXT_CHARS", "RawEvent", "decode_event", "parse_json_bytes", "validate_event"]

MAX_TEXT_CHARS = 20_000
EventId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]
Name = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=256)]
EntityId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]


class RawEvent(BaseModel):
    """One news item or social post as producers send it (key = ``id``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: EventId
    source: Name
    kind: Literal["news", "social"]
    text: Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)]
    published_at: AwareDatetime
    lang: Annotated[str, StringConstraints(strict=True, max_length=16)] | None = None
    entities: Annotated[list[EntityId], Field(max_length=50)] | None = None
    author: Annotated[str, StringConstraints(strict=True, max_length=256)] | None = None
    url: Annotated[str, StringConstraints(strict=True, max_length=2048)] | None = None
    meta: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _reason(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(x) for x in item["loc"]) or "event"
        message = item["msg"]
        if item["type"] == "string_too_long" and where == "text":
            message = f"text too long (more than {MAX_TEXT_CHARS} characters)"
        parts.append(f"{where}: {message}")
    return "invalid event: " + "; ".join(parts)


def validate_event(payload: Any, *, default_kind: str | None = None) -> RawEvent:
    """A decoded JSON value -> RawEvent, or EventError with a reason fit for a dead letter.

    >>> ok = {"id": "a1", "source": "wire", "text": " Shares jump ", "published_at": "2026-01-05T10:00:00Z"}
    >>> e = validate_event(ok, default_kind="news")
    >>> (e.kind, e.text, e.published_at.isoformat())
    ('news', 'Shares jump', '2026-01-05T10:00:00+00:00')
    >>> validate_event({"id": 7, "source": "x", "kind": "news", "text": "t", "published_at": "2026-01-05T10:00:00"})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    services.errors.EventError: invalid event: id: Input should be a valid string; published_at: Input should have ...
    """
    if not isinstance(payload, dict):
        raise EventError(f"not a JSON object (got {type(payload).__name__})")
    if default_kind and "kind" not in payload:
        payload = {**payload, "kind": default_kind}
    try:
        return RawEvent.model_validate(payload)
    except ValidationError as exc:
        raise EventError(_reason(exc)) from None


def parse_json_bytes(raw: bytes | None) -> Any:
    """UTF-8 JSON bytes -> value, or EventError with the reason (one wording for Kafka and HTTP alike).

    >>> parse_json_bytes(b"\\xff")
    Traceback (most recent call last):
    ...
    services.errors.EventError: undecodable bytes: not UTF-8 (invalid start byte at byte 0)
    """
    if raw is None:
        raise EventError("empty message (no value)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError(f"undecodable bytes: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise EventError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def decode_event(raw: bytes | None, *, default_kind: str | None = None) -> RawEvent:
    """Kafka message bytes -> RawEvent; every way bytes can be wrong becomes an EventError with its reason."""
    return validate_event(parse_json_bytes(raw), default_kind=default_kind)
