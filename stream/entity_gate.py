"""Entities a producer names that are not on the watchlist pass a per-source quota before they are scored.

The quota itself is kept by :class:`storage.entity_quota.RedisEntityQuota` (shared by every worker); this module is
the stage's side of it, pure so the unit tests need no Redis: which entities of a batch to ask about, and what is
left of each event once the answers are in. The tagger only finds watchlist entities, so what is asked about is
always something a producer supplied.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from stream.metrics import ENTITIES_REFUSED
from stream.scoring import Prepared

__all__ = ["Ask", "EntityGate", "RefusalLog", "apply_answers", "asks_of", "epoch_day"]

log = logging.getLogger("radar.score")


class EntityGate(Protocol):
    """Per request (source, entities off the watchlist), the entities admitted on UTC day ``day``; raises
    :class:`core.errors.StorageError` while its store is away."""

    @property
    def per_source(self) -> int: ...

    async def admit(self, requests: Sequence[tuple[str | None, Sequence[str]]], *, day: int) -> list[set[str]]: ...


Ask = tuple[int, str | None, list[str]]  # index into prepared.valid, the event's source, its entities off the list


def epoch_day(now: datetime) -> int:
    return int(now.timestamp() // 86_400)


def asks_of(prepared: Prepared, watched: Collection[str]) -> list[Ask]:
    """The events of the batch that name entities off the watchlist, with those entities."""
    asks: list[Ask] = []
    for index, (event, mentions, _) in enumerate(prepared.valid):
        off = [entity for entity in mentions if entity not in watched]
        if off:
            asks.append((index, event.source, off))
    return asks


def apply_answers(prepared: Prepared, asks: Sequence[Ask], answers: Sequence[set[str]]) -> list[tuple[str, int]]:
    """Drop the refused entities from their events; returns (source, how many refused) per event that lost any."""
    refused = []
    for (index, source, off), admitted in zip(asks, answers, strict=True):
        dropped = [entity for entity in off if entity not in admitted]
        if not dropped:
            continue
        event, mentions, item = prepared.valid[index]
        kept = {entity: mention for entity, mention in mentions.items() if entity not in dropped}
        prepared.valid[index] = (event, kept, item)
        refused.append((source or "", len(dropped)))
    return refused


class RefusalLog:
    """One warning per source per ``every_s`` (a producer over its quota sends many events; its name is its own,
    so the memory of warned sources is bounded too), every refusal counted in the metric."""

    def __init__(self, per_source: int, *, every_s: float = 600.0, capacity: int = 1024) -> None:
        self.per_source, self.every_s, self.capacity = per_source, every_s, capacity
        self._warned: OrderedDict[str, float] = OrderedDict()

    def report(self, refused: Sequence[tuple[str, int]], now: float | None = None) -> None:
        at = time.monotonic() if now is None else now
        for source, count in refused:
            ENTITIES_REFUSED.inc(count)
            last = self._warned.get(source)
            if last is not None and at - last < self.every_s:
                continue
            self._warned[source] = at
            self._warned.move_to_end(source)
            while len(self._warned) > self.capacity:
                self._warned.popitem(last=False)
            log.warning(
                "source %r named more than %d entities off the watchlist today: %d dropped from an event "
                "(RADAR_ENTITY_QUOTA_PER_SOURCE; add them to the watchlist to count them all)",
                source,
                self.per_source,
                count,
            )
