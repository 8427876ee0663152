"""Give a scenario's entities a history before a test replays it: what a worker that had watched them for days
would hold in Redis. The volume detector alerts only on what is rare for *its* entity, which takes days of minutes
to learn, far more than a test can replay; the detectors warmed offline are stored where the closer loads them."""

from __future__ import annotations

import redis.asyncio as aioredis

from core.settings import Settings
from localdev.scenarios import Scenario
from storage.aggregates import AggregateStore
from stream.detect import warmed

__all__ = ["HISTORY_DAYS", "seed_history"]

HISTORY_DAYS = 10


async def seed_history(settings: Settings, scenario: Scenario, days: float = HISTORY_DAYS) -> None:
    first = int(scenario.start.timestamp() // 60)
    states = {}
    for entity, counts in scenario.history(days).items():
        states[entity] = warmed(counts.tolist(), first - len(counts)).to_state()
    store = AggregateStore(aioredis.from_url(settings.redis_url), prefix=settings.redis_prefix)
    try:
        await store.save_detectors(states)
    finally:
        await store.client.aclose()
