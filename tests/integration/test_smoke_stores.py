"""Redis and SQL really answer: a round trip each, on the servers the stack started."""

from __future__ import annotations

import redis
import sqlalchemy as sa


def test_redis_round_trip(stack, unique) -> None:  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(stack.redis_url)
    key = f"radar:test:{unique}"
    client.set(key, "value", ex=30)
    assert client.get(key) == b"value"
    assert 0 < client.ttl(key) <= 30
    client.close()


def _round_trip(url: str, table: str) -> list[tuple[int, str]]:
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    t = sa.Table(table, metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("text", sa.String(50)))
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(t.insert(), [{"id": 1, "text": "héllo"}, {"id": 2, "text": "world"}])
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.select(t).order_by(t.c.id))]
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def test_sqlite_round_trip(tmp_path, unique) -> None:  # type: ignore[no-untyped-def]
    assert _round_trip(f"sqlite:///{tmp_path / 'radar.db'}", f"t_{unique}") == [(1, "héllo"), (2, "world")]


def test_postgres_round_trip(stack, unique) -> None:  # type: ignore[no-untyped-def]
    assert _round_trip(stack.postgres_url, f"t_{unique}") == [(1, "héllo"), (2, "world")]
    engine = sa.create_engine(stack.postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW server_version")).scalar().startswith("15")
    engine.dispose()
