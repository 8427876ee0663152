"""Ingestion on real Kafka: the producer keeps every record and its key; HTTP ingest accepts, refuses and
dead-letters per record; every malformed case ends up in the dead-letter topic with its reason."""

from __future__ import annotations

import json

import httpx

from stream.deadletter import DeadLetter
from stream.producer import EventProducer
from tests.support.api_server import running_api
from tests.support.kafka_read import read_topic
from tests.support.malformed import GOOD, malformed_cases

N = 3000


def _event(i: int, unique: str) -> dict[str, object]:
    return {**GOOD, "id": f"{unique}-{i}", "kind": "news" if i % 3 else "social", "text": f"story {i} about Acme"}


def test_every_record_arrives_once_with_its_key(fresh_topics, unique) -> None:  # type: ignore[no-untyped-def]
    settings = fresh_topics(partitions=3)
    with EventProducer(settings) as producer:
        producer.send_many(_event(i, unique) for i in range(N))
        producer.flush()
    news = read_topic(settings, settings.topics.raw_news, expected=N - N // 3)
    social = read_topic(settings, settings.topics.raw_social, expected=N // 3)
    records = news + social
    assert len(records) == N
    ids = [json.loads(r.value)["id"] for r in records]
    assert sorted(ids) == sorted(f"{unique}-{i}" for i in range(N))
    assert all(r.key.decode() == json.loads(r.value)["id"] for r in records)
    by_partition: dict[str, set[int]] = {}
    for r in records:
        by_partition.setdefault(r.key.decode(), set()).add(r.partition)
    assert all(len(parts) == 1 for parts in by_partition.values())


def test_http_ingest_accepts_valid_and_dead_letters_the_rest(fresh_topics, unique) -> None:  # type: ignore[no-untyped-def]
    settings = fresh_topics(partitions=2)
    cases = malformed_cases(unique)
    auth = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    with running_api(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/v1/events", json=GOOD).status_code == 401
        one = client.post("/v1/events", json={**GOOD, "id": f"{unique}-single"}, headers=auth)
        assert one.status_code == 202 and one.json()["accepted"] == [f"{unique}-single"]
        batch = [{**GOOD, "id": f"{unique}-arr-{i}"} for i in range(5)] + [{"id": f"{unique}-broken"}]
        mixed = client.post("/v1/events", json=batch, headers=auth)
        assert mixed.status_code == 422
        assert len(mixed.json()["accepted"]) == 5
        assert mixed.json()["rejected"][0]["index"] == 5
        ndjson = (
            b"\n".join(raw for raw, _ in cases.values()) + b"\n" + json.dumps({**GOOD, "id": f"{unique}-nd"}).encode()
        )
        response = client.post("/v1/events", content=ndjson, headers={**auth, "Content-Type": "application/x-ndjson"})
        assert response.status_code == 422
        assert response.json()["accepted"] == [f"{unique}-nd"]
        assert len(response.json()["rejected"]) == len(cases)
        too_big = client.post("/v1/events", content=b"x" * (settings.ingest_max_body_bytes + 1), headers=auth)
        assert too_big.status_code == 413
        metrics = client.get("/metrics").text
        assert "radar_ingest_records_total" in metrics
    raw = read_topic(settings, settings.topics.raw_news, expected=7)
    assert sorted(json.loads(r.value)["id"] for r in raw) == sorted(
        [f"{unique}-single", f"{unique}-nd", *(f"{unique}-arr-{i}" for i in range(5))]
    )
    letters = [
        DeadLetter.model_validate_json(r.value)
        for r in read_topic(settings, settings.topics.deadletter, expected=len(cases) + 1)
    ]
    assert len(letters) == len(cases) + 1
    originals = {letter.original(): letter.reason for letter in letters}
    for name, (raw_bytes, fragment) in cases.items():
        assert raw_bytes in originals, name
        assert fragment in originals[raw_bytes], (name, originals[raw_bytes])
