"""Topic administration with kafka-python's admin client (3.x API)."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from core.settings import Settings

__all__ = ["DEADLETTER_MAX_BYTES", "ensure_topics", "topic_partitions"]

# A dead letter carries the original record base64-encoded (4/3 of its size) plus context, so its topic accepts
# records twice the broker's usual 4 MiB limit for raw events.
DEADLETTER_MAX_BYTES = 8 * 1024 * 1024


def _admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(**settings.kafka_python_config(), request_timeout_ms=10000)


def ensure_topics(
    settings: Settings, names: Iterable[str] | None = None, *, partitions: int | None = None
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Existing topics are left as they are."""
    wanted = list(names) if names is not None else settings.topics.all()
    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        created: list[str] = []
        for name in missing:
            configs = {"max.message.bytes": str(DEADLETTER_MAX_BYTES)} if name == settings.topics.deadletter else None
            topic = NewTopic(
                name=name,
                num_partitions=partitions or settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
                topic_configs=configs,
            )
            try:
                admin.create_topics([topic])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()


def topic_partitions(settings: Settings, name: str) -> int:
    admin = _admin(settings)
    try:
        described = admin.describe_topics([name])
        return len(described[0]["partitions"]) if described else 0
    finally:
        admin.close()
