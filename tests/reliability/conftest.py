"""Fault tests on the real stack. Each gets its own topics, consumer group, Redis prefix and PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from core.webhook_signing import new_secret
from localdev.databases import fresh_postgres
from localdev.receiver import Receiver, running_receiver
from tests.conftest import FAULT_FIGURES
from tests.reliability.harness import Pipeline


@pytest.fixture
def record(request):  # type: ignore[no-untyped-def]
    """Keep a fault test's figures for the table printed at the end of the run (tests/conftest.py prints it; they
    travel on the test's report, so an xdist worker's reach it too)."""

    def keep(figures: dict[str, object]) -> None:
        request.node.user_properties.append((FAULT_FIGURES, figures))

    return keep


def pytest_collection_modifyitems(items):  # type: ignore[no-untyped-def]
    """Every test here is a reliability test (make test runs them on a stack of their own, one at a time) unless
    it leaves the stack's services alone (``stack_intact``: its faults hit only its own receiver or input)."""
    for item in items:
        if "/reliability/" in str(item.fspath) and item.get_closest_marker("stack_intact") is None:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture
def pipeline_factory(fresh_topics, unique, tmp_path) -> Iterator[Callable[..., Pipeline]]:  # type: ignore[no-untyped-def]
    """``with make(plan=..., **settings_overrides) as pipeline``: the whole pipeline on a fresh namespace."""

    @contextmanager
    def make(plan: Callable[[int], str] = lambda _: "ok", **overrides: object) -> Iterator[Pipeline]:
        base = fresh_topics(partitions=3)
        receiver = Receiver(plan=plan, secret=new_secret())
        with fresh_postgres(base.postgres_url, f"radar_rel{unique}") as url, running_receiver(receiver) as hook:
            settings = base.model_copy(
                update={
                    "redis_prefix": f"radar:rel{unique}:",
                    "database_url": url,
                    "settle_s": 3.0,
                    # the last minute closes once the stream is quiet this long; no fault here holds a producer's
                    # records back (only a Kafka restart does: bench.chaos), and a stuck partition is pending, not
                    # quiet, so the grace only adds to every test's end
                    "idle_grace_s": 3.0,
                    **overrides,
                }
            )
            pipeline = Pipeline(settings, receiver, hook, tmp_path)
            try:
                yield pipeline
            finally:
                pipeline.stop()

    yield make
