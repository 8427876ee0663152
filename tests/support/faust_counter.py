"""A minimal Faust app for the Kafka smoke test: forwards the ids it consumes, in batches, to an output topic.

Run as a real worker process: ``python -m tests.support.faust_counter worker``; topics from the environment.
"""

from __future__ import annotations

import json
import os

import faust

app = faust.App(
    os.environ["COUNTER_APP_ID"],
    broker=f"kafka://{os.environ.get('COUNTER_BROKER', '127.0.0.1:9092')}",
    store="memory://",
    web_enabled=False,
    broker_session_timeout=10,
    topic_partitions=int(os.environ.get("COUNTER_PARTITIONS", "3")),
)
source = app.topic(os.environ["COUNTER_IN"], value_serializer="raw", key_serializer="raw")
sink = app.topic(os.environ["COUNTER_OUT"], value_serializer="raw", key_serializer="raw")


@app.agent(source)
async def forward_ids(stream):  # type: ignore[no-untyped-def]
    async for batch in stream.take(1000, within=0.2):
        ids = [json.loads(value)["id"] for value in batch]
        await sink.send(value=json.dumps(ids).encode())


if __name__ == "__main__":
    app.main()
