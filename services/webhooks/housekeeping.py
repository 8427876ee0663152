"""Automatic retention in the dispatcher process: with ``RADAR_RETENTION_DAYS`` > 0, prune once an hour.

The dispatcher is the one long-running process that already holds a database session factory and needs no
Kafka, so it prunes: minute rollups and finished webhook deliveries older than the retention
(:func:`storage.retention.prune_older_than`, in short batches). At most one prune per ``every_s`` (an hour) per
process, the first a minute after start (once the dispatcher's first round has checked the schema); a prune that
fails (the database away) is logged and tried again an hour later. Several dispatchers may prune at once: each
batch deletes what is still there. A stop is honoured between batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy.orm import Session, sessionmaker

from storage.retention import PruneCounts, prune_older_than

__all__ = ["PRUNED", "Pruner"]

log = logging.getLogger("radar.retention")
PRUNED = Counter(
    "radar_retention_deleted_rows_total",
    "Rows deleted by retention pruning (alerts.evidence: resolved alerts whose kept texts were emptied)",
    ["table"],
)


class Pruner:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        retention_days: float,
        every_s: float = 3600.0,
        first_after_s: float = 60.0,
        batch: int = 5000,
    ) -> None:
        if retention_days < 0:
            raise ValueError(f"retention_days must be 0 (keep everything) or more, not {retention_days}")
        self.sessions, self.retention_days = sessions, retention_days
        self.every_s, self.first_after_s, self.batch = every_s, first_after_s, batch

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Prune after ``first_after_s``, then every ``every_s``, until ``stop`` is set; never when retention is 0."""
        if not self.retention_days:
            return
        wait_s = self.first_after_s
        while not await _stopped_within(stop, wait_s):
            await self.prune_once(stop)
            wait_s = self.every_s

    async def prune_once(self, stop: asyncio.Event | None = None) -> PruneCounts | None:
        """One prune (in a thread: it blocks on the database); None when it failed."""
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        keep_going = (lambda: not stop.is_set()) if stop is not None else (lambda: True)
        try:
            counts = await asyncio.to_thread(
                prune_older_than, self.sessions, cutoff=cutoff, batch=self.batch, keep_going=keep_going
            )
        except Exception as exc:  # noqa: BLE001 - the database may be away: the next hour tries again
            log.warning("retention pruning failed, next try in %.0f s: %s", self.every_s, exc)
            return None
        PRUNED.labels("entity_minute_stats").inc(counts.rollups)
        PRUNED.labels("webhook_deliveries").inc(counts.deliveries)
        PRUNED.labels("alerts.evidence").inc(counts.evidence)
        if counts.rollups or counts.deliveries or counts.evidence:
            log.info(
                "retention: deleted %d minute rollups, %d finished deliveries and the texts of %d resolved alerts "
                "from before %s",
                counts.rollups,
                counts.deliveries,
                counts.evidence,
                cutoff.isoformat(timespec="seconds"),
            )
        return counts


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
