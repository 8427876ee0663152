"""Shared fixtures. Integration tests talk to the real local stack; it is started once per session if needed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from services.settings import Settings, TopicNames


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    """Bring the real Kafka, Redis, PostgreSQL and Triton up (no-op when already up). Never skipped: a test
    that needs a service it cannot start fails with the service's log tail. Tests score with the tiny model."""
    from inference.model_store import TINY_MODEL_NAME
    from services.stack import Stack

    Stack(settings).up()
    return settings.model_copy(update={"model_name": TINY_MODEL_NAME})


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def fresh_topics(stack: Settings, unique: str) -> Callable[..., Settings]:
    """Settings whose topics (and consumer group) are new for this test, created with ``partitions``."""

    def make(partitions: int = 3) -> Settings:
        from services.kafka_io.admin import ensure_topics

        names = TopicNames(**{field: f"t{unique}.{field}" for field in TopicNames.model_fields})
        scoped = stack.model_copy(update={"topics": names, "consumer_group": f"g{unique}"})
        ensure_topics(scoped, partitions=partitions)
        return scoped

    return make


@pytest.fixture
def tmp_var(tmp_path) -> Iterator:  # type: ignore[no-untyped-def]
    yield tmp_path
