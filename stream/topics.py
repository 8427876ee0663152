"""Topic administration with kafka-python's admin client (3.x API)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from core.settings import Settings

__all__ = ["DEADLETTER_MAX_BYTES", "admin_client", "closed_on_failure", "ensure_topics", "topic_partitions"]

T = TypeVar("T")

# A dead letter carries the original record base64-encoded (4/3 of its size) plus context, so its topic accepts
# records twice the broker's usual 4 MiB limit for raw events.
DEADLETTER_MAX_BYTES = 8 * 1024 * 1024


def closed_on_failure(build: Callable[..., T], make_client: Callable[..., Any], **configs: Any) -> T:
    """``build(**configs)`` with its network client made by ``make_client``; when the build fails (no broker yet),
    the clients it made are closed. kafka-python leaves their sockets open, and the garbage collector's
    ResourceWarning then surfaces later in whatever code happens to run."""
    clients: list[Any] = []

    def client(**client_configs: Any) -> Any:
        clients.append(make_client(**client_configs))
        return clients[-1]

    try:
        return build(**configs, kafka_client=client)
    except BaseException:
        for made in clients:
            made.close()
        raise


def admin_client(settings: Settings, *, request_timeout_ms: int = 10000) -> KafkaAdminClient:
    make = KafkaAdminClient.DEFAULT_CONFIG["kafka_client"]
    config = settings.kafka_python_config()
    return closed_on_failure(KafkaAdminClient, make, **config, request_timeout_ms=request_timeout_ms)


def ensure_topics(
    settings: Settings, names: Iterable[str] | None = None, *, partitions: int | None = None
) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Existing topics are left as they are."""
    wanted = list(names) if names is not None else settings.topics.all()
    admin = admin_client(settings)
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
    admin = admin_client(settings)
    try:
        described = admin.describe_topics([name])
        return len(described[0]["partitions"]) if described else 0
    finally:
        admin.close()
