"""Run dispatchers until the outbox has settled: the dispatcher tests wait on that condition, not on a fixed
number of rounds (200 rounds of 50 ms were ten seconds a test whatever the receivers did)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.orm import Session, sessionmaker

from core.domain import UNFINISHED_DELIVERIES
from services.webhooks.dispatcher import Dispatcher
from storage.alerts_repo import delivery_counts

__all__ = ["unsettled", "until_settled"]


def unsettled(sessions: sessionmaker[Session]) -> bool:
    """Some delivery is still pending or sending (due later after a failure, or leased by a round)."""
    with sessions() as session:
        counts = delivery_counts(session)
    return any(counts.get(status, 0) for status in UNFINISHED_DELIVERIES)


async def until_settled(sessions: sessionmaker[Session], *dispatchers: Dispatcher, limit_s: float = 90) -> list[int]:
    """Run every dispatcher's rounds concurrently until no row is pending or sending (or ``limit_s`` passed);
    returns the attempts each made."""
    made = [0] * len(dispatchers)
    deadline = time.monotonic() + limit_s

    async def loop(i: int, dispatcher: Dispatcher) -> None:
        while time.monotonic() < deadline and await asyncio.to_thread(unsettled, sessions):
            made[i] += await dispatcher.run_once()
            await asyncio.sleep(0.02)

    await asyncio.gather(*(loop(i, d) for i, d in enumerate(dispatchers)))
    return made
