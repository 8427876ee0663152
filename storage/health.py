"""Readiness probes of the stores: one short round trip each, a reason instead of an exception."""

from __future__ import annotations

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

__all__ = ["redis_problem", "sql_problem"]


def sql_problem(engine: Engine) -> str | None:
    """None when the SQL store answers ``SELECT 1``; else why not (blocking: run it off the event loop)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:  # the failure is the answer, not an error of the probe
        return _reason(exc)
    return None


async def redis_problem(url: str, timeout_s: float = 2.0) -> str | None:
    """None when Redis answers PING within ``timeout_s``; else why not."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return _reason(exc)
    finally:
        await client.aclose()
    return None


def _reason(exc: BaseException) -> str:
    first_line = (str(exc).splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
