"""Cutting an ingest body into records: hostile bodies cost their own record and never raise past the API."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import EventError
from services.api.records import TooManyRecords, split_body
from stream.events import check_json_value

GOOD = {"id": "a", "source": "wire", "kind": "news", "text": "Acme", "published_at": "2026-01-05T10:00:00Z"}
DEEP = b'{"a":' * 5000 + b"1" + b"}" * 5000


def test_a_record_cap_stops_a_hostile_array_before_it_is_decoded() -> None:
    body = b"[" + b"1," * 2_499_999 + b"1]"  # 5 MB, 2.5 million records
    started = time.perf_counter()
    with pytest.raises(TooManyRecords, match="more than 1000 records"):
        split_body(body, "application/json", max_records=1000)
    assert time.perf_counter() - started < 0.5
    with pytest.raises(TooManyRecords):
        split_body(b"1\n" * 2_500_000, "application/x-ndjson", max_records=1000)


def test_ndjson_lines_stand_alone() -> None:
    """Line 1 valid, line 2 hostile in every way Python's decoder fails: only line 2 carries an error."""
    for hostile in (DEEP, b'{"n": ' + b"9" * 5000 + b"}", b'{"k": "\\ud800"}', b"\xff\xfe", b"{nope"):
        first, second = split_body(json.dumps(GOOD).encode() + b"\n" + hostile, "application/x-ndjson", max_records=9)
        assert first.value == GOOD and first.error is None
        assert second.raw == hostile
        if second.error is None:
            with pytest.raises(EventError):
                check_json_value(second.value)


def test_an_array_keeps_each_elements_bytes_and_one_unreadable_element_spoils_the_body() -> None:
    body = b'[ {"id": "x", "s": "\\u00e9"} ,\n 2 ]'
    records = split_body(body, "application/json", max_records=9)
    assert [r.raw for r in records] == [b'{"id": "x", "s": "\\u00e9"}', b"2"]
    (only,) = split_body(b"[1, " + DEEP + b"]", "application/json", max_records=9)
    assert (
        only.raw == b"[1, " + DEEP + b"]"
        and only.error == "record 1 of the array: not JSON the pipeline can carry: nested too deep"
    )
    for broken in (b"[1, 2", b"[1 2]", b"[1] x", b"", b"   ", b"[,]"):
        (record,) = split_body(broken, "application/json", max_records=9)
        assert record.error and "not JSON" in record.error, broken
    assert split_body(b" [ ] ", "application/json", max_records=9) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(st.characters(codec=None)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(["application/json", "application/x-ndjson"]),
)
def test_any_bytes_become_records_or_a_cap_never_an_exception(body: bytes, content_type: str) -> None:
    try:
        records = split_body(body, content_type, max_records=50)
    except TooManyRecords:
        return
    for record in records:
        if record.error is None:
            with contextlib.suppress(EventError):  # a reason, or nothing: never another exception
                check_json_value(record.value)
