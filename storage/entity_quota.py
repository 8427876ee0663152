"""How many entities off the watchlist each source may introduce per day, kept in Redis across workers.

Why a quota: a producer may name up to 32 entity ids per event, and every new id costs Redis buckets, SQL rollups,
a detector and per-minute detection work for days. Entities on the watchlist are always admitted (the stage does
not ask); any other id is admitted while its source has introduced fewer than ``per_source`` such ids on the UTC
day (the ids it already introduced that day stay admitted). A refused id is dropped from the event, which is still
scored and counted under its other entities and the all-entities total. One script per check, so two workers
cannot both take the last place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from core.errors import StorageError
from storage.redis_keys import Keys

__all__ = ["RedisEntityQuota"]

_ADMIT = """
local admitted = {}
local quota = tonumber(ARGV[1])
for i = 3, #ARGV do
  local entity = ARGV[i]
  if redis.call('SISMEMBER', KEYS[1], entity) == 1 then
    admitted[#admitted + 1] = entity
  elseif redis.call('SCARD', KEYS[1]) < quota then
    redis.call('SADD', KEYS[1], entity)
    admitted[#admitted + 1] = entity
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return admitted
"""

TTL_S = 2 * 86_400


class RedisEntityQuota:
    """The per-source daily quota of entities off the watchlist (:class:`stream.score_stage.EntityGate`)."""

    def __init__(self, client: aioredis.Redis, *, per_source: int, prefix: str = "radar:") -> None:
        self.client, self.per_source, self.keys = client, per_source, Keys(prefix)
        self._script: Any = client.register_script(_ADMIT)

    async def admit(self, requests: Sequence[tuple[str | None, Sequence[str]]], *, day: int) -> list[set[str]]:
        """Per request (source, entities off the watchlist), the entities admitted; one round trip for the batch.
        Raises StorageError while Redis is away (the stage holds its batch and tries again)."""
        if not requests:
            return []
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for source, entities in requests:
                    await self._script(
                        keys=[self.keys.quota(source, day)], args=[self.per_source, TTL_S, *entities], client=pipe
                    )
                answers = await pipe.execute()
        except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
            raise StorageError(f"Redis is unavailable for the entity quota: {exc}") from exc
        return [{e.decode() if isinstance(e, bytes) else str(e) for e in answer} for answer in answers]
