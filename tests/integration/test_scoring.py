"""The score agent on real Kafka and a real tritonserver: every event scored once, and across two workers of one
consumer group. (Triton stopped and restarted mid-stream is a fault of the reliability tier:
tests/reliability/test_faults.py.)"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from kafka import KafkaAdminClient

from inference.model_store import tiny_model_dir
from inference.runtime import SentimentRuntime
from localdev.workers import running_worker
from stream.deadletter import DeadLetter
from stream.producer import EventProducer
from tests.support.kafka_read import read_topic
from tests.support.malformed import malformed_cases


def _events(unique: str, n: int, start: int = 0) -> list[dict[str, object]]:
    texts = ["Acme crushes earnings, fantastic quarter", "Globex recall is a disaster", "Initech opens an office"]
    return [
        {
            "id": f"{unique}-{i}",
            "source": "test",
            "kind": "social" if i % 2 else "news",
            "text": f"{texts[i % 3]} #{i}",
            "published_at": (datetime(2026, 1, 5, 12, tzinfo=UTC) + timedelta(seconds=i)).isoformat(),
        }
        for i in range(start, start + n)
    ]


def _send(settings, events) -> None:  # type: ignore[no-untyped-def]
    with EventProducer(settings) as producer:
        producer.send_many(events)
        producer.flush()


def test_every_event_scored_with_contract_fields_and_bad_ones_dead_lettered(fresh_topics, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = fresh_topics(partitions=3)
    events = _events(unique, 500)
    cases = malformed_cases(unique)
    _send(settings, events)
    with EventProducer(settings) as producer:
        for raw, _ in cases.values():
            producer.send_raw(settings.topics.raw_news, raw, key=b"bad")
        producer.send_event(events[0])  # a duplicate by id
        producer.flush()
    with running_worker(settings, tmp_path / "worker.log") as worker:
        scored = read_topic(settings, settings.topics.scored, expected=len(events), timeout_s=120)
        letters = read_topic(settings, settings.topics.deadletter, expected=len(cases), timeout_s=30)
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    values = [json.loads(r.value) for r in scored]
    assert sorted(v["id"] for v in values) == sorted(e["id"] for e in events)  # all, once, duplicate dropped
    by_id = {v["id"]: v for v in values}
    expected = SentimentRuntime(tiny_model_dir(settings)).predict([e["text"] for e in events])
    for event, probs in zip(events, expected, strict=True):
        out = by_id[event["id"]]
        assert out["text"] == event["text"] and out["kind"] == event["kind"] and out["source"] == "test"
        assert out["entities"] == [["ACME"], ["GLBX"], ["INIT"]][int(str(event["id"]).rsplit("-", 1)[1]) % 3]
        np.testing.assert_allclose(out["sentiment"]["probs"], probs, atol=1e-4)
        assert out["sentiment"]["label"] in ("negative", "neutral", "positive")
        assert abs(out["sentiment"]["score"] - (probs[2] - probs[0])) < 1e-4
        assert out["model"] == {"name": "sentiment_tiny", "version": out["model"]["version"]}
        assert datetime.fromisoformat(out["scored_at"]).tzinfo is not None
    dead = [DeadLetter.model_validate_json(r.value) for r in letters]
    assert len(dead) == len(cases)
    reasons = {d.original(): d.reason for d in dead}
    for name, (raw, fragment) in cases.items():
        assert fragment in reasons[raw], name
    assert all(d.source_topic == settings.topics.raw_news and d.offset is not None for d in dead)


def test_two_workers_share_the_partitions(fresh_topics, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = fresh_topics(partitions=4)
    n = 2000
    with running_worker(settings, tmp_path / "w1.log"), running_worker(settings, tmp_path / "w2.log"):
        admin = KafkaAdminClient(**settings.kafka_python_config())
        deadline = time.monotonic() + 90
        group: dict[str, object] = {}
        while time.monotonic() < deadline:
            group = admin.describe_groups([settings.consumer_group])[settings.consumer_group]
            if group["group_state"] == "Stable" and len(group["members"]) == 2:  # type: ignore[arg-type]
                break
            time.sleep(0.5)
        admin.close()
        assert group["group_state"] == "Stable" and len(group["members"]) == 2, group  # type: ignore[arg-type]
        _send(settings, _events(unique, n))
        scored = read_topic(settings, settings.topics.scored, expected=n, timeout_s=120)
    assert len({json.loads(r.value)["id"] for r in scored}) == n
