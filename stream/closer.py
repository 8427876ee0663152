"""Closing minutes: when every event up to a minute (plus the allowed lateness) is counted, run detection on it for
every active entity, once.

Which events are still uncounted is asked of Kafka (:mod:`stream.backlog`): each look gives a bound, the event time
of the first uncommitted valid record of every raw partition that has one (or, where none has, the largest event
time counted), and the scored topic's end offsets. The bound becomes true once a later look shows the aggregate
stage committed through those end offsets: then everything the raw commits covered is counted, and what is left is
at or after the bound. The closer keeps its looks and closes up to the newest confirmed bound at least
``settle_s`` old (wall time: a margin for producers that make partitions visible out of step). A partition that is
stuck (Triton away, a worker killed before the rebalance) therefore holds every minute open until its records are
counted, however far the others have run ahead; a partition with nothing to read holds nothing. Bounds advance
with the events, never with the clock, so a replay of last year's data closes its minutes as correctly as a live
feed. (Counted event times alone give no such bound: the scored topic merges every raw partition, written by
several workers and concurrent batches, so an old event can wait in a scored partition behind newer ones.)

When nothing is pending and the largest event time has not moved for ``idle_grace_s``, the stream is quiet and the
minute holding the last event is closed too, so the end of a burst is not left open. A look at Kafka that fails
starts that wait again: while the broker is away producers hold their records back, and what they send once it is
back belongs to minutes that only looked quiet (bench.chaos found 2,166 events dead-lettered as late this way).
One worker at a time holds the closing lock; minutes are closed in order and ``closed_through`` advances only
after a minute's alerts and rollups are handed to the sink, so a crash re-closes a minute rather than skip it.
Re-closing is harmless: detectors ignore minutes they already learnt and alerts are idempotent by key.

A closed minute is one :class:`stream.minute_sink.ClosedMinute` for the sink: besides its rollups and the alerts that
open, the alerts that resolve at its end (their detector has been normal for ``resolve_after_s``, counted in closed
minutes: event time). Both carry their evidence, the most negative events of the alert's window, read again for a
resolution (the window's minutes no longer change).

The closer reads and writes through :class:`storage.minute_store.MinuteStore`: Redis in the workers, an in-memory
store in the unit tests.

A Redis that lost its state (restarted empty: a new node, a lost volume) has no ``closed_through``. With a
:class:`DurableProgress` (SQL: the minute each SQL transaction closed), the closer notices: it logs the loss,
counts it (``radar_redis_state_lost_total``), resumes after the minute SQL has (so events of older minutes are late,
not counted into minutes already closed and re-closed with partial counts), and lets new detector states adopt the
alerts SQL still has open, so they resolve. The minutes from there to the first event counted again may have
lost the counts Redis had for them; the log names them.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping
from typing import Any, Protocol

from core.alerts import Alert
from core.domain import Rollup
from core.explain import explain
from storage.minute_store import MinuteStore
from storage.redis_keys import ALL_ENTITIES
from stream.backlog import Backlog
from stream.detect import EntityDetectors, detect_minute, minute_start, resolve_after_minutes
from stream.metrics import REDIS_STATE_LOST
from stream.minute_sink import ClosedMinute, MinuteSink

__all__ = ["BacklogSource", "DurableProgress", "MinuteCloser", "Rollup", "last_closable_minute"]

BASELINE_MINUTES = 60  # the entity's minutes before an alert its explanation compares with (20 texts each at most)
INCIDENT_MINUTES = 120  # a resolved alert's explanation reads at most this much of its incident

log = logging.getLogger("radar.closer")


class BacklogSource(Protocol):
    """Where the closer learns what is uncounted (:class:`stream.backlog.KafkaBacklog` in the workers)."""

    async def snapshot(self) -> Backlog: ...


class DurableProgress(Protocol):
    """What SQL remembers of the closing (:class:`stream.sinks.SqlProgress`): the last minute closed, the alerts
    not yet resolved."""

    async def closed_through(self) -> int | None: ...

    async def unresolved_alerts(self) -> list[Alert]: ...


def last_closable_minute(watermark: float, *, lateness_s: float, quiet: bool) -> int:
    """The last epoch minute that can be closed.

    >>> last_closable_minute(625.0, lateness_s=30, quiet=False)  # events up to 10:25 (m:ss): minute 8 closes
    8
    >>> last_closable_minute(625.0, lateness_s=30, quiet=True)  # nothing new for a while: minute 10 closes too
    10
    """
    if quiet:
        return math.floor(watermark / 60)
    return math.floor((watermark - lateness_s) / 60) - 1


class MinuteCloser:
    def __init__(
        self,
        store: MinuteStore,
        sink: MinuteSink,
        backlog: BacklogSource,
        *,
        lateness_s: float = 30.0,
        settle_s: float = 0.0,
        idle_grace_s: float = 120.0,
        max_minutes: int = 600,
        max_future_s: float = 300.0,
        resolve_after_s: float = 900.0,
        max_looks: int = 256,
        progress: DurableProgress | None = None,
    ) -> None:
        self.store, self.sink, self.backlog = store, sink, backlog
        self.progress = progress
        self._progress_checked = False  # SQL had nothing for an empty Redis: a fresh start, not a loss
        self.lateness_s, self.settle_s, self.idle_grace_s = lateness_s, settle_s, idle_grace_s
        self.max_minutes = max_minutes
        self.max_future_s = max_future_s
        self.resolve_after = resolve_after_minutes(resolve_after_s)
        # looks not confirmed yet, oldest first: (wall time, their bound, the scored end offsets they saw)
        self._looks: deque[tuple[float, float, Mapping[str, int]]] = deque(maxlen=max_looks)
        self._confirmed: float | None = None  # the newest confirmed bound
        self._high: tuple[float, float] | None = None  # (wall time, largest event time) when it last moved

    def _confirm(self, look: Backlog, now: float) -> float | None:
        """The bound of the newest look at least ``settle_s`` old whose published records ``look`` shows all counted
        (commits are read before end offsets, so a look whose commits reach its own end offsets confirms itself)."""
        while self._looks and self._looks[0][0] <= now - self.settle_s and look.counted_through(self._looks[0][2]):
            _, bound, _ = self._looks.popleft()
            self._confirmed = bound if self._confirmed is None else max(self._confirmed, bound)
        return self._confirmed

    async def close_ready(self, now: float) -> int:
        """Close every minute the confirmed bound allows (at most ``max_minutes`` per call); returns how many.

        ``now`` is wall-clock time, used to notice that the stream went quiet and to never close a minute that has
        not begun yet (beyond the allowed skew).
        """
        high = await self.store.watermark()
        if high is None:
            return 0
        if self._high is None or self._high[1] != high:
            self._high = (now, high)
        try:
            look = await self.backlog.snapshot()
        except Exception:
            # Kafka out of sight: producers may be holding records back meanwhile, so the stream is not quiet
            # until it has been seen idle for the whole grace after Kafka answers again
            self._high = (now, high)
            raise
        bound = look.bound(high)
        if bound is not None:
            self._looks.append((now, bound, look.published))
        confirmed = self._confirm(look, now)  # a look confirms itself when everything it saw published is counted
        quiet = not look.pending and now - self._high[0] >= self.idle_grace_s
        if quiet:
            target = last_closable_minute(high, lateness_s=self.lateness_s, quiet=True)  # everything is counted
        else:
            if confirmed is None or bound is None:
                return 0
            # a partition that has records again can hold the bound back below the confirmed one
            target = last_closable_minute(min(confirmed, bound), lateness_s=self.lateness_s, quiet=False)
        # never past the wall clock plus the allowed skew, whatever event time came in (the score stage refuses
        # events stamped further ahead; this holds even for one that slipped through another way)
        target = min(target, math.floor((now + self.max_future_s) / 60) - 1)
        async with self.store.close_lock() as held:
            if not held:
                return 0
            closed = await self.store.closed_through()
            if closed is None:
                closed = await self._recover()
            else:
                self._progress_checked = False
            first = (closed + 1) if closed is not None else await self.store.first_minute()
            if first is None or first > target:
                return 0
            last = min(target, first + self.max_minutes - 1)
            entities = await self.store.active_entities(since_minute=first - 24 * 60)
            done = 0
            for minute in range(first, last + 1):
                if not held:  # the lock was lost (this process stalled past its TTL): another closer goes on
                    break
                await self._close(minute, entities)
                await self.store.set_closed_through(minute)
                done += 1
            return done

    async def _recover(self) -> int | None:
        """Redis has no closing state: a fresh start, or a Redis that lost it. SQL tells which; after a loss, the
        minute SQL closed is restored and the alerts SQL has open are adopted by their entities' detectors."""
        if self.progress is None or self._progress_checked:
            return None
        durable = await self.progress.closed_through()
        if durable is None:
            self._progress_checked = True
            return None
        REDIS_STATE_LOST.inc()
        first = await self.store.first_minute()
        log.error(
            "Redis has lost the closing state (SQL has minutes closed through %s): resuming after it; counts Redis "
            "held for the minutes %s to %s may be lost, events of minutes closed before are dead-lettered as late",
            minute_start(durable).strftime("%Y-%m-%d %H:%M"),
            minute_start(durable + 1).strftime("%H:%M"),
            minute_start(first).strftime("%H:%M") if first is not None and first > durable else "now",
        )
        await self.store.set_closed_through(durable)
        unresolved = await self.progress.unresolved_alerts()
        by_entity: dict[str, list[Alert]] = {}
        for alert in unresolved:
            by_entity.setdefault(alert.entity, []).append(alert)
        states = await self.store.load_detectors(list(by_entity))
        adopted: dict[str, dict[str, Any]] = {}
        for entity, alerts in by_entity.items():
            detectors = EntityDetectors.from_state(states[entity])
            for alert in alerts:
                detectors.adopt(alert)
            adopted[entity] = detectors.to_state()
        await self.store.save_detectors(adopted)
        if unresolved:
            log.warning(
                "adopted %d unresolved alert(s) from SQL: they resolve once their detector is normal", len(unresolved)
            )
        return durable

    async def _close(self, minute: int, entities: list[str]) -> None:
        stats = await self.store.minute_stats([*entities, ALL_ENTITIES], minute)
        states = await self.store.load_detectors(entities)
        opened: list[Alert] = []
        resolved: list[Alert] = []
        updated: dict[str, dict[str, Any]] = {}
        for entity in entities:
            if states[entity] is None and stats[entity].n == 0:
                continue  # an entity's detection starts with its first events
            detectors = EntityDetectors.from_state(states[entity])
            found = detect_minute(detectors, entity, minute, stats[entity], resolve_after=self.resolve_after)
            opened += [await self._with_evidence(alert) for alert in found.opened]
            resolved += [await self._with_evidence(alert) for alert in found.resolved]
            updated[entity] = detectors.to_state()
        rollups = tuple(Rollup(e, minute, s) for e, s in stats.items() if s.n > 0)
        await self.sink.emit(ClosedMinute(minute, tuple(opened), rollups, tuple(resolved)))
        await self.store.save_detectors(updated)
        at = minute_start(minute).strftime("%H:%M")
        if opened:
            log.warning("minute %s: %d alert(s): %s", at, len(opened), "; ".join(a.message for a in opened))
        if resolved:
            log.warning("minute %s: %d alert(s) resolved: %s", at, len(resolved), ", ".join(a.key for a in resolved))

    async def _with_evidence(self, alert: Alert) -> Alert:
        """The alert with the most negative events of its window (minutes window_start to window_end, exclusive)
        and its explanation: the window's kept texts (through the resolution, for a resolved alert, at most
        :data:`INCIDENT_MINUTES`) against the entity's :data:`BASELINE_MINUTES` before it."""
        first, end = (int(instant.timestamp() // 60) for instant in (alert.window_start, alert.window_end))
        evidence = await self.store.evidence(alert.entity, first, end - 1)
        last = end - 1
        if alert.resolved_at is not None:
            last = max(last, min(int(alert.resolved_at.timestamp() // 60) - 1, first + INCIDENT_MINUTES - 1))
        window = await self.store.evidence(alert.entity, first, last, limit=None)
        baseline = await self.store.evidence(alert.entity, first - BASELINE_MINUTES, first - 1, limit=None)
        explanation = explain(alert.entity, window, baseline, minutes=last - first + 1)
        return alert.with_evidence(evidence).with_explanation(explanation)
