"""Give a scenario's entities a history before a test replays it: what a worker that had watched them for days
would hold in Redis. The volume detector alerts only on what is rare for *its* entity, which takes days of minutes
to learn, far more than a test can replay; the detectors warmed offline are stored where the closer loads them."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from core.settings import Settings
from localdev.scenarios import Scenario
from storage.aggregates import AggregateStore
from stream.detect import warmed

__all__ = ["HISTORY_DAYS", "history_states", "save_states", "seed_history"]

HISTORY_DAYS = 10


def history_states(scenario: Scenario, days: float = HISTORY_DAYS) -> dict[str, dict[str, Any]]:
    """Each entity's detector state after ``days`` of its usual minutes before the scenario starts (a few tenths
    of a second of CPU per entity: callers that seed the same scenario again keep the result)."""
    first = int(scenario.start.timestamp() // 60)
    return {
        entity: warmed(counts.tolist(), first - len(counts)).to_state()
        for entity, counts in scenario.history(days).items()
    }


async def save_states(settings: Settings, states: dict[str, dict[str, Any]]) -> None:
    """Store detector states where this settings' closer loads them (its Redis and prefix)."""
    store = AggregateStore(aioredis.from_url(settings.redis_url), prefix=settings.redis_prefix)
    try:
        await store.save_detectors(states)
    finally:
        await store.client.aclose()


async def seed_history(settings: Settings, scenario: Scenario, days: float = HISTORY_DAYS) -> None:
    await save_states(settings, history_states(scenario, days))
