"""Hostile input against the real API, Kafka and databases: no request gets a 5xx, and nothing is lost.

Each test sends one row of issue 14's table next to valid records, then reads the topics back: every accepted
id is on its raw topic, every refused record is on the dead-letter topic with its exact bytes.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from localdev.serve import free_port
from stream.deadletter import DeadLetter
from tests.support.api_server import api_process, memory_kib, running_api
from tests.support.kafka_read import read_topic
from tests.support.malformed import GOOD

NDJSON = {"Content-Type": "application/x-ndjson"}
JSON = {"Content-Type": "application/json"}
DEEP = b'{"a":' * 5000 + b"1" + b"}" * 5000
HUGE_INT = b"9" * 5000


def _event(unique: str, name: str, **changes: Any) -> dict[str, Any]:
    return {**GOOD, "id": f"{unique}-{name}", **changes}


def _with_meta(event: dict[str, Any], raw_meta: bytes) -> bytes:
    """The event's JSON with ``meta`` spelled as ``raw_meta``: JSON that ``json.dumps`` would never write."""
    return json.dumps({**event, "meta": "__META__"}).encode().replace(b'"__META__"', raw_meta)


@pytest.fixture
def ingest(fresh_topics, tmp_path) -> Iterator[tuple[Settings, httpx.Client]]:  # type: ignore[no-untyped-def]
    settings = fresh_topics(partitions=1).model_copy(update={"database_url": f"sqlite:///{tmp_path / 'radar.db'}"})
    auth = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    with running_api(settings) as base, httpx.Client(base_url=base, timeout=60, headers=auth) as client:
        yield settings, client


def _post(client: httpx.Client, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post("/v1/events", content=body, headers=headers)
    assert response.status_code in (202, 422), response.text
    result: dict[str, Any] = response.json()
    assert (response.status_code == 422) == bool(result["rejected"])
    return result


def _nothing_lost(settings: Settings, result: dict[str, Any], records: list[bytes]) -> None:
    """Every accepted id is on the raw topic, every refused record (by index) is dead-lettered byte for byte."""
    raw = read_topic(settings, settings.topics.raw_news, expected=len(result["accepted"]))
    assert sorted(json.loads(r.value)["id"] for r in raw) == sorted(result["accepted"])
    refused = [r for r in result["rejected"] if r["reason"] != "empty body"]
    letters = read_topic(settings, settings.topics.deadletter, expected=len(refused))
    originals = {DeadLetter.model_validate_json(r.value).original() for r in letters}
    assert originals == {records[r["index"]] for r in refused}
    assert len(result["accepted"]) + len(refused) == len(records)


def test_far_future_published_at_is_refused_by_the_event_time_policy(ingest, unique) -> None:  # type: ignore[no-untyped-def]
    """2099-01-01: refused per record with the policy's reason and dead-lettered, as the score stage would."""
    settings, client = ingest
    records = [
        json.dumps(_event(unique, "future", published_at="2099-01-01T00:00:00Z")).encode(),
        json.dumps(_event(unique, "now")).encode(),
    ]
    result = _post(client, b"\n".join(records), NDJSON)
    assert result["accepted"] == [f"{unique}-now"]
    assert [r["index"] for r in result["rejected"]] == [0] and "ahead of the clock" in result["rejected"][0]["reason"]
    _nothing_lost(settings, result, records)


def test_hostile_entity_ids_are_refused_per_record(ingest, unique) -> None:  # type: ignore[no-untyped-def]
    """``ACME\\u0000X`` and ``../../etc`` are no aggregation keys: each refused with the entity-id rule."""
    settings, client = ingest
    records = [
        json.dumps(_event(unique, name, entities=[entity])).encode()
        for name, entity in (("nul", "ACME\u0000X"), ("path", "../../etc"))
    ]
    records.append(json.dumps(_event(unique, "plain", entities=["ACME"])).encode())
    result = _post(client, b"[" + b",".join(records) + b"]", JSON)
    assert result["accepted"] == [f"{unique}-plain"]
    assert [r["index"] for r in result["rejected"]] == [0, 1]
    assert all("entities.0" in r["reason"] for r in result["rejected"])
    _nothing_lost(settings, result, records)


def test_a_lone_surrogate_in_meta_is_refused_alone(ingest, unique) -> None:  # type: ignore[no-untyped-def]
    settings, client = ingest
    hostile = _with_meta(_event(unique, "surrogate"), b'{"k": "\\ud800"}')
    single = _post(client, hostile, JSON)
    assert single["accepted"] == [] and "lone surrogate" in single["rejected"][0]["reason"]
    key = _with_meta(_event(unique, "surrogate-key"), b'{"\\udfff": 1}')
    records = [json.dumps(_event(unique, "valid")).encode(), key]
    mixed = _post(client, b"[" + b", ".join(records) + b"]", JSON)
    assert mixed["accepted"] == [f"{unique}-valid"] and [r["index"] for r in mixed["rejected"]] == [1]
    letters = read_topic(settings, settings.topics.deadletter, expected=2)
    assert {DeadLetter.model_validate_json(r.value).original() for r in letters} == {hostile, key}


def test_ndjson_line_2_hostile_line_1_still_produced(ingest, unique) -> None:  # type: ignore[no-untyped-def]
    """The lone surrogate on line 2 is line 2's error; line 1 is produced (NDJSON lines stand alone)."""
    settings, client = ingest
    records = [json.dumps(_event(unique, "line1")).encode(), _with_meta(_event(unique, "line2"), b'"\\ud800"')]
    result = _post(client, b"\n".join(records), NDJSON)
    assert result["accepted"] == [f"{unique}-line1"]
    assert [r["index"] for r in result["rejected"]] == [1] and "lone surrogate" in result["rejected"][0]["reason"]
    _nothing_lost(settings, result, records)


@pytest.mark.parametrize(
    ("name", "meta", "why"),
    [
        ("deep", DEEP, "nested too deep"),
        ("bigint", HUGE_INT, "4300 digits"),
    ],
)
def test_json_pythons_decoder_cannot_take_is_refused_alone(ingest, unique, name, meta, why) -> None:  # type: ignore[no-untyped-def]
    """5,000-deep meta and a 5,000-digit integer: a per-record error, alone as one event and as NDJSON line 2."""
    settings, client = ingest
    hostile = _with_meta(_event(unique, name), meta)
    single = _post(client, hostile, JSON)
    assert single["accepted"] == [] and why in single["rejected"][0]["reason"]
    records = [json.dumps(_event(unique, f"{name}-ok")).encode(), hostile]
    lines = _post(client, b"\n".join(records), NDJSON)
    assert lines["accepted"] == [f"{unique}-{name}-ok"] and why in lines["rejected"][0]["reason"]
    letters = read_topic(settings, settings.topics.deadletter, expected=2)
    assert [DeadLetter.model_validate_json(r.value).original() for r in letters] == [hostile, hostile]


def test_malformed_authorization_is_401_never_500(ingest, unique) -> None:  # type: ignore[no-untyped-def]
    settings, client = ingest
    event = json.dumps(_event(unique, "auth")).encode()
    hostile: list[dict[str, Any]] = [
        {"Authorization": "Bearer é".encode()},
        {"Authorization": b"Bearer \xff\xfe\x80"},
        {"Authorization": f"Bearer {settings.api_token.get_secret_value()}é".encode()},
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer a b c"},
        {"Authorization": ""},
    ]
    for headers in hostile:
        with httpx.Client(base_url=str(client.base_url), timeout=10) as bare:
            assert bare.post("/v1/events", content=event, headers={**JSON, **headers}).status_code == 401, headers
            assert bare.get("/v1/alerts", headers=headers).status_code == 401, headers
    read = {"Authorization": f"Bearer {settings.api_read_token.get_secret_value()}"}
    refused = client.post("/v1/events", content=event, headers={**JSON, **read})
    assert refused.status_code == 403 and "read-only" in refused.json()["detail"]
    assert client.get("/v1/alerts").status_code == 200  # the ingest token may read


@pytest.fixture
def read_api(stack, database_url) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    settings = stack.model_copy(update={"database_url": database_url})
    auth = {"Authorization": f"Bearer {settings.api_read_token.get_secret_value()}"}
    with running_api(settings) as base, httpx.Client(base_url=base, timeout=10, headers=auth) as client:
        yield client


@pytest.mark.parametrize(
    "query",
    [
        "/v1/alerts?before_id=99999999999999999999",
        "/v1/alerts?before_id=-1",
        "/v1/alerts?before_id=2147483648",
        "/v1/alerts?limit=-5",
        "/v1/alerts?limit=" + "9" * 5000,
        "/v1/alerts?entity=ACME%00X",
        "/v1/alerts?detector=" + "x" * 300,
        "/v1/alerts?since=99999-01-01T00:00:00Z",
        "/v1/entities/ACME%00X/series",
        "/v1/entities/ACME/series?limit=0",
        "/v1/entities/ACME/series?since=not-a-date",
    ],
)
def test_out_of_range_queries_are_422_on_either_database(read_api, query) -> None:  # type: ignore[no-untyped-def]
    response = read_api.get(query)
    assert response.status_code == 422, response.text


def test_in_range_extremes_are_answered(read_api) -> None:  # type: ignore[no-untyped-def]
    for query in (
        "/v1/alerts?before_id=2147483647&limit=500",
        "/v1/alerts?entity=../../etc",
        "/v1/alerts?since=0001-01-01T00:00:00%2B14:00",
        "/v1/entities/ACME%20X/series",
        "/v1/entities/%C3%A9/series?until=9999-12-31T23:59:59-14:00",
    ):
        assert read_api.get(query).status_code == 200, query


def test_5mb_body_of_ones_is_413_with_bounded_memory(fresh_topics, tmp_path, unique) -> None:  # type: ignore[no-untyped-def]
    """2.5 million records in 5 MB: refused at record 1,001 (413, the cap in the message), nothing produced, and
    the API process's peak resident memory barely moves (it was >120 s of dead letters before)."""
    settings = fresh_topics(partitions=1).model_copy(update={"database_url": f"sqlite:///{tmp_path / 'radar.db'}"})
    auth = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    body = b"[" + b"1," * 2_499_999 + b"1]"
    assert 5_000_000 <= len(body) <= settings.ingest_max_body_bytes
    with api_process(settings, tmp_path / "api.log") as (base, pid), httpx.Client(base_url=base, timeout=60) as client:
        warm = client.post("/v1/events", json=_event(unique, "warm"), headers=auth)
        assert warm.status_code == 202
        before = memory_kib(pid)
        started = time.monotonic()
        response = client.post("/v1/events", content=body, headers={**auth, **JSON})
        elapsed = time.monotonic() - started
        after = memory_kib(pid)
    assert response.status_code == 413
    assert "more than 1000 records" in response.json()["detail"]
    growth_mib = (after["VmHWM"] - before["VmRSS"]) / 1024
    rss, peak = after["VmRSS"] / 1024, after["VmHWM"] / 1024
    print(
        f"5 MB body refused in {elapsed:.2f} s; API RSS {before['VmRSS'] / 1024:.0f} MiB before, "
        f"{rss:.0f} MiB after, peak {peak:.0f} MiB (+{growth_mib:.0f} MiB)"
    )
    assert growth_mib < 48 and elapsed < 5
    assert len(read_topic(settings, settings.topics.raw_news, expected=2, timeout_s=3)) == 1  # the warm-up only


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A "broker" that accepts connections and never answers: Kafka hung, the case that used to freeze the API."""
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)
        yield f"127.0.0.1:{hole.getsockname()[1]}"


@pytest.mark.parametrize("kafka", ["closed-port", "black-hole"])
def test_kafka_unavailable_is_503_with_retry_after_and_reads_go_on(stack, tmp_path, unique, request, kafka) -> None:  # type: ignore[no-untyped-def]
    """Kafka away (closed port: 503 at once) or hung (503 once ingest's timeout is spent), with Retry-After; while
    ingest waits, the event loop serves others (kafka-python blocks a worker thread, never the loop)."""
    servers = request.getfixturevalue("black_hole") if kafka == "black-hole" else f"127.0.0.1:{free_port()}"
    settings = stack.model_copy(
        update={
            "kafka_bootstrap_servers": servers,
            "ingest_kafka_timeout_s": 2.0,
            "database_url": f"sqlite:///{tmp_path / 'radar.db'}",
        }
    )
    auth = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    with running_api(settings) as base, httpx.Client(base_url=base, timeout=30, headers=auth) as client:
        outcome: dict[str, Any] = {}

        def ingest() -> None:
            started = time.monotonic()
            outcome["response"] = client.post("/v1/events", json=_event(unique, "k"))
            outcome["elapsed"] = time.monotonic() - started

        waiting = threading.Thread(target=ingest)
        waiting.start()
        time.sleep(0.5)
        with httpx.Client(base_url=base, timeout=30, headers=auth) as other:
            started = time.monotonic()
            assert other.get("/healthz").status_code == 200 and other.get("/v1/alerts").status_code == 200
            assert time.monotonic() - started < 1.0  # a blocked loop would hold them the whole 2 s
        waiting.join(timeout=30)
        first = outcome["response"]
        assert first.status_code == 503 and first.headers["Retry-After"] == "2", first.text
        assert "Kafka" in first.json()["detail"]
        assert (1.5 < outcome["elapsed"] < 5) if kafka == "black-hole" else (outcome["elapsed"] < 1)
        started = time.monotonic()
        again = client.post("/v1/events", json=_event(unique, "k"))
        assert again.status_code == 503 and again.headers["Retry-After"] == "2"
        assert time.monotonic() - started < 1.0  # answered at once within the Retry-After window
        assert client.post("/v1/events", content=b"{nope", headers=JSON).status_code == 503  # its dead letter too
