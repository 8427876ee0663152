"""A fresh PostgreSQL database on the stack's server, migrated, dropped afterwards (tests and benchmarks)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from storage.db import make_engine, upgrade


@contextmanager
def fresh_postgres(postgres_url: str, name: str) -> Iterator[str]:
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        admin.dispose()  # its pooled connection may not have survived a PostgreSQL restart
        drop_database(admin, name)
        admin.dispose()


def drop_database(admin: sa.Engine, name: str, *, tries: int = 20) -> None:
    """Drop ``name``: end our own sessions on it, then a plain DROP, which also stops an autovacuum worker there.

    Why not ``DROP DATABASE ... WITH (FORCE)``: on PostgreSQL 15 it refuses to terminate an autovacuum worker
    (a process with no role: "must be a member of the role whose process is being terminated") unless the caller
    is a superuser, which the application role is not; a test's teardown then failed now and then. A session that
    is still closing makes the plain DROP fail "being accessed by other users": it is tried again, briefly."""
    for attempt in range(tries):
        try:
            with admin.connect() as conn:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND usename = current_user AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            return
        except sa.exc.OperationalError:
            if attempt == tries - 1:
                raise
            time.sleep(0.25)
