"""Shared fixtures. Integration tests talk to the real local stack; it is started once per session if needed."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.settings import Settings, TopicNames

# rich reads COLUMNS when a console is made, at a CLI module's first import: whichever test imports it first (under
# pytest-xdist, any earlier test of the same worker) would fix the width its tables wrap at; one width for all
os.environ.setdefault("COLUMNS", "200")


FAULT_FIGURES = "fault_figures"  # a fault test's figures, on its report (tests/reliability/conftest.py, record)
FAULT_COLUMNS = (
    "events",
    "counted",
    "minutes_closed",
    "minutes_incomplete",
    "alerts",
    "delivered",
    "webhook_requests",
    "dead_letters",
    "duplicate_dead_letters",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests and doctests first (seconds each: a slip shows within a minute), then the fault tests (long ones:
    started early, so the suite does not end on one), then the integration tests; in file order otherwise."""

    def tier(item: pytest.Item) -> int:
        path = str(item.path)
        return 1 if "/tests/reliability/" in path else 2 if "/tests/integration/" in path else 0

    items.sort(key=tier)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault tests' figures, one line each: every fault, then the invariants held."""
    rows = [
        (report.nodeid.split("::")[-1].removeprefix("test_"), figures)
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if getattr(report, "when", "") == "call"
        for key, figures in getattr(report, "user_properties", [])
        if key == FAULT_FIGURES
    ]
    if not rows:
        return
    terminalreporter.section("reliability: every fault, then the invariants held")
    terminalreporter.write_line(f"{'fault':48} " + " ".join(f"{c:>12}" for c in FAULT_COLUMNS))
    for name, figures in rows:
        terminalreporter.write_line(f"{name:48} " + " ".join(f"{figures.get(c, ''):>12}" for c in FAULT_COLUMNS))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def stack(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Bring the real Kafka, Redis, PostgreSQL and Triton up (no-op when already up). Never skipped: a test
    that needs a service it cannot start fails with the service's log tail. Tests score with the tiny models and
    replay fixed dates, so the event-time policy's age limit is off for them (its own tests set it). Their SQL
    default is a SQLite file of this session, migrated here, never the developer's var/radar.db."""
    from inference.model_store import TINY_MODEL_NAME, TINY_ZH_MODEL_NAME
    from localdev.stack import Stack
    from storage.db import make_engine, upgrade

    Stack(settings).up()
    database_url = f"sqlite:///{tmp_path_factory.mktemp('sql') / 'radar.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    # the tests replay fixed dates of 2026 (reproducible scenarios): a historic replay, on purpose
    update = {
        "model_name": TINY_MODEL_NAME,
        "model_name_zh": TINY_ZH_MODEL_NAME,
        "event_max_age_s": 0.0,
        "database_url": database_url,
    }
    return settings.model_copy(update=update)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def fresh_topics(stack: Settings, unique: str) -> Callable[..., Settings]:
    """Settings whose topics, consumer group and Redis prefix are new for this test (topics with ``partitions``)."""

    def make(partitions: int = 3) -> Settings:
        from stream.topics import ensure_topics

        names = TopicNames(**{field: f"t{unique}.{field}" for field in TopicNames.model_fields})
        # a fresh Redis namespace too: a minute another test closed must not make this test's events late
        scoped = stack.model_copy(
            update={"topics": names, "consumer_group": f"g{unique}", "redis_prefix": f"radar:t{unique}:"}
        )
        ensure_topics(scoped, partitions=partitions)
        return scoped

    return make


def _sqlite(path: Path) -> str:
    from storage.db import make_engine, upgrade

    url = f"sqlite:///{path / 'radar.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, unique) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, migrated database on each dialect, for the tests of dialect-specific SQL (upserts, leases,
    ``claim_due``, batched deletes, migrations): SQLite in a temporary file, or a new PostgreSQL database on the
    stack's server. Tests whose SQL is the same on both take :func:`sqlite_url`."""
    from localdev.databases import fresh_postgres

    if request.param == "sqlite":
        yield _sqlite(tmp_path)
        return
    with fresh_postgres(request.getfixturevalue("stack").postgres_url, f"radar_t{unique}") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite file: for tests whose SQL does not depend on the dialect (an API over the
    stores, a worker's refresh loop); the queries they run are tested on both dialects elsewhere."""
    return _sqlite(tmp_path)


@pytest.fixture
def postgres_url(stack: Settings, unique: str) -> Iterator[str]:
    """A fresh PostgreSQL database on the stack's server: for recipes written for PostgreSQL only."""
    from localdev.databases import fresh_postgres

    with fresh_postgres(stack.postgres_url, f"radar_t{unique}") as url:
        yield url
