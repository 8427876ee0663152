"""kafka-python produces 10,000 events; a real Faust worker process consumes every one of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

N = 10_000
ROOT = Path(__file__).resolve().parents[2]


def test_faust_worker_consumes_every_event(fresh_topics, unique, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = fresh_topics(partitions=3)
    topic_in, topic_out = settings.topics.raw_news, settings.topics.scored
    producer = KafkaProducer(**settings.kafka_python_config(), linger_ms=5, acks="all")
    for i in range(N):
        producer.send(topic_in, key=str(i).encode(), value=json.dumps({"id": str(i)}).encode())
    producer.flush()
    producer.close()

    env = {
        **os.environ,
        "COUNTER_APP_ID": f"counter-{unique}",
        "COUNTER_IN": topic_in,
        "COUNTER_OUT": topic_out,
        "COUNTER_BROKER": settings.kafka_bootstrap_servers,
        "COUNTER_PARTITIONS": "3",
    }
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.support.faust_counter", "worker", "-l", "warn", "--without-web"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        consumer = KafkaConsumer(
            topic_out,
            **settings.kafka_python_config(),
            group_id=f"check-{unique}",
            auto_offset_reset="earliest",
            consumer_timeout_ms=1000,
        )
        seen: list[str] = []
        deadline = time.monotonic() + 120
        while len(seen) < N and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            for message in consumer:
                seen.extend(json.loads(message.value))
        consumer.close()
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert len(seen) == N, f"got {len(seen)} ids; worker log: {(tmp_path / 'worker.log').read_text()[-2000:]}"
    assert set(seen) == {str(i) for i in range(N)}
