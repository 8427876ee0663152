"""The per-source quota of entities off the watchlist, on the real Redis: shared by concurrent callers (workers),
per source and per day, idempotent for ids already admitted, and a clear StorageError when Redis is away."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from core.errors import StorageError
from core.settings import Settings
from storage.entity_quota import TTL_S, RedisEntityQuota
from storage.redis_keys import Keys


async def test_the_quota_holds_across_concurrent_workers_and_is_per_source_and_day(stack: Settings) -> None:
    prefix = f"test-quota-{uuid.uuid4().hex[:8]}:"
    clients = [aioredis.from_url(stack.redis_url) for _ in range(4)]
    try:
        quotas = [RedisEntityQuota(c, per_source=25, prefix=prefix) for c in clients]
        # four "workers" race to introduce 100 distinct ids of one source: exactly 25 get in
        asks = [[("wire", [f"E{n}-{i}" for i in range(5)])] for n in range(20)]
        answers = await asyncio.gather(*(quotas[n % 4].admit(ask, day=7) for n, ask in enumerate(asks)))
        admitted = set().union(*(a[0] for a in answers))
        assert len(admitted) == 25
        # what got in stays in (a redelivery is not refused); what did not stays out
        again = await quotas[0].admit([("wire", [*sorted(admitted)[:3], "NEW"])], day=7)
        assert again == [set(sorted(admitted)[:3])]
        # another source and the next day start afresh
        assert await quotas[1].admit([("other", ["E0-0"]), ("wire", ["E0-0"])], day=8) == [{"E0-0"}, {"E0-0"}]
        ttl = await clients[0].ttl(Keys(prefix).quota("wire", 7))
        assert 0 < ttl <= TTL_S
    finally:
        async for key in clients[0].scan_iter(f"{prefix}*"):
            await clients[0].delete(key)
        for c in clients:
            await c.aclose()


async def test_a_redis_that_is_away_is_a_storage_error() -> None:
    client = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        with pytest.raises(StorageError, match="entity quota"):
            await RedisEntityQuota(client, per_source=1).admit([("wire", ["X"])], day=1)
    finally:
        await client.aclose()
