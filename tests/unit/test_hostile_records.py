"""Hostile records in the score stage's pure steps: each one is dead-lettered with its reason, none stops the
batch, and the valid events around it go on."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from stream.events import EventTimePolicy
from stream.scoring import Incoming, RecentIds, prepare_batch

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = EventTimePolicy(max_future_s=300, max_age_s=2 * 86_400)


def _valid(i: int) -> bytes:
    return json.dumps(
        {"id": f"ok-{i}", "source": "wire", "text": f"Acme item {i}", "published_at": "2026-03-02T11:59:00Z"}
    ).encode()


def _with(**fields: object) -> bytes:
    base = {"id": "bad", "source": "wire", "text": "Acme news", "published_at": "2026-03-02T11:59:00Z"}
    return json.dumps({**base, **fields}).encode()


def _raw(tail: bytes) -> bytes:
    """An event whose last field is written by hand, for what json.dumps would never produce."""
    return b'{"id":"raw","source":"w","text":"Acme","published_at":"2026-03-02T11:59:00Z",' + tail + b"}"


HOSTILE: dict[str, tuple[bytes, str]] = {
    "year 2099": (_with(published_at="2099-01-01T00:00:00Z"), "ahead of the clock"),
    "year 1970": (_with(published_at="1970-01-02T00:00:00Z"), "older than the maximum age"),
    "NUL in an entity": (_with(entities=["ACME\u0000X"]), "entities.0"),
    "a path as an entity": (_with(entities=["../../etc"]), "entities.0"),
    "too many entities": (_with(entities=[f"E{i}" for i in range(100)]), "entities"),
    "lone surrogate in meta": (_raw(b'"meta":{"x":"\\ud800"}'), "lone surrogate"),
    "lone surrogate in a meta key": (_raw(b'"meta":{"\\udfff":1}'), "lone surrogate"),
    "lone surrogate in the author": (_raw(b'"author":"a\\ud83d"'), "lone surrogate"),
    "meta 5,000 deep": (_raw(b'"meta":' + b'{"a":' * 5000 + b"1" + b"}" * 5000), "nested too deep"),
    "meta 40 deep": (_with(meta=json.loads('{"a":' * 40 + "1" + "}" * 40)), "nested deeper than"),
    "a 5,000-digit integer": (_raw(b'"meta":{"n":' + b"9" * 5000 + b"}"), "4300 digits"),
    "NaN": (_raw(b'"meta":{"n":NaN}'), "NaN"),
    "meta too large": (_with(meta={"blob": "x" * 20_000}), "larger than"),
    "not UTF-8": (b"\xff\xfe{", "not UTF-8"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_each_hostile_record_is_dead_lettered_with_its_reason_and_the_batch_goes_on(name: str) -> None:
    raw, reason = HOSTILE[name]
    items = [Incoming(_valid(i), None, "radar.raw.news", 0, i) for i in range(3)]
    items.insert(1, Incoming(raw, b"bad", "radar.raw.news", 0, 99))
    prepared = prepare_batch(
        items,
        kind_of_topic={"radar.raw.news": "news"},
        tag=lambda _: ["ACME"],
        seen=RecentIds(),
        policy=POLICY,
        now=NOW,
    )
    assert [event.id for event, _, _ in prepared.valid] == ["ok-0", "ok-1", "ok-2"]
    assert len(prepared.dead) == 1 and reason in prepared.dead[0].reason, prepared.dead[0].reason
    letter = prepared.dead[0]
    assert (letter.offset, letter.original()) == (99, raw)
    json.loads(letter.to_bytes())  # the envelope itself always encodes


def test_a_failure_nobody_foresaw_is_dead_lettered_with_the_exception_named() -> None:
    def tag(text: str) -> list[str]:
        if "item 1" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return ["ACME"]

    items = [Incoming(_valid(i), None, "radar.raw.news", 0, i) for i in range(3)]
    prepared = prepare_batch(
        items, kind_of_topic={"radar.raw.news": "news"}, tag=tag, seen=RecentIds(), policy=POLICY, now=NOW
    )
    assert [event.id for event, _, _ in prepared.valid] == ["ok-0", "ok-2"]
    assert prepared.dead[0].reason.startswith("unhandled RecursionError: maximum recursion depth")


def test_the_time_policy_takes_the_clock_as_given_and_can_lift_the_age_limit() -> None:
    old = [Incoming(_with(id="old", published_at="2015-03-01T00:00:00Z"), None, "radar.raw.news", 0, 0)]
    kinds = {"radar.raw.news": "news"}
    refused = prepare_batch(old, kind_of_topic=kinds, tag=lambda _: [], seen=RecentIds(), policy=POLICY, now=NOW)
    historic = EventTimePolicy(max_future_s=300, max_age_s=0)  # a historic file replayed on purpose
    kept = prepare_batch(old, kind_of_topic=kinds, tag=lambda _: [], seen=RecentIds(), policy=historic, now=NOW)
    assert len(refused.dead) == 1 and [e.id for e, _, _ in kept.valid] == ["old"]
