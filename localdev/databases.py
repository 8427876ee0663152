"""A fresh PostgreSQL database on the stack's server, migrated, dropped afterwards (tests and benchmarks)."""

from __future__ import annotations

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
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
