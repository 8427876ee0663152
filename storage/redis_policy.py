"""Refuse a Redis that may evict keys.

Every key here has a TTL (dedupe ids, minute buckets, detector state, evidence), so under a ``volatile-*`` or
``allkeys-*`` policy a full Redis evicts them silently: an evicted dedupe key counts an event twice, an evicted
bucket closes a minute short, an evicted detector state forgets an open alert that then never resolves. Managed
Redis often defaults to ``volatile-lru``. The only safe policy is ``noeviction`` (a full Redis refuses writes,
which the aggregate stage retries and reports), so a process that writes aggregates will not start on another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import ConfigError

__all__ = ["check_redis_policy", "eviction_problem"]


def eviction_problem(memory_info: Mapping[str, Any]) -> str | None:
    """Why a Redis with this ``INFO memory`` may lose keys, or None.

    >>> eviction_problem({"maxmemory_policy": "noeviction", "maxmemory": 0}) is None
    True
    >>> eviction_problem({"maxmemory_policy": "volatile-lru", "maxmemory": 1 << 30}).split(":")[0]
    'Redis maxmemory-policy is volatile-lru'
    """
    policy = str(memory_info.get("maxmemory_policy", "noeviction"))
    if policy == "noeviction":
        return None
    return (
        f"Redis maxmemory-policy is {policy}: a full Redis would evict this pipeline's keys (every one has a TTL) "
        "and silently miscount; set maxmemory-policy noeviction"
    )


def check_redis_policy(url: str, timeout_s: float = 5.0) -> None:
    """Raise :class:`ConfigError` when the Redis at ``url`` may evict keys; a Redis that does not answer is left
    to the process's own retries (it may be starting)."""
    import redis
    from redis.exceptions import RedisError

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        problem = eviction_problem(client.info("memory"))
    except (RedisError, OSError):
        return
    finally:
        client.close()
    if problem:
        raise ConfigError(problem)
