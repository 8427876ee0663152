"""Prometheus metrics of the stream workers (exposed by ``radar worker`` on its metrics port).

Names carry their unit (``_seconds``, ``_messages``, ``_events``) and counters end in ``_total``; the operations
dashboard (``deploy/grafana/dashboards/operations.json``) reads them by name, and
``tests/unit/test_operations_config.py`` fails when it asks for one the code does not declare.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ALERTS",
    "BATCH_SIZE",
    "CLOSE_DELAY",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "DUPLICATES",
    "ENTITIES_REFUSED",
    "EVENTS_IN",
    "EVENTS_IN_FLIGHT",
    "EVENTS_SCORED",
    "INFERENCE_LATENCY",
    "INFERENCE_RETRIES",
    "LATE_EVENTS",
    "REDIS_STATE_LOST",
    "RESOLVED",
    "TRITON_WAITING",
    "counts_in_flight",
]

EVENTS_IN = Counter("radar_events_in_total", "Raw messages consumed", ["topic"])
EVENTS_SCORED = Counter("radar_events_scored_total", "Scored events produced")
DEAD_LETTERS = Counter("radar_dead_letters_total", "Messages sent to the dead-letter topic", ["stage"])
DUPLICATES = Counter("radar_duplicates_dropped_total", "Events dropped as duplicates by id", ["stage"])
BATCH_SIZE = Histogram(
    "radar_batch_size_events", "Events per micro-batch sent to Triton", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)
)
INFERENCE_LATENCY = Histogram(
    "radar_inference_duration_seconds",
    "Triton latency per micro-batch",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
)
INFERENCE_RETRIES = Counter("radar_inference_retries_total", "Triton requests retried")
TRITON_WAITING = Gauge("radar_triton_waiting", "1 while the score agent holds back because Triton is unavailable")
REDIS_STATE_LOST = Counter(
    "radar_redis_state_lost_total",
    "Times a closer found Redis without the closing state SQL has (restarted empty): resumed from SQL",
)
ENTITIES_REFUSED = Counter(
    "radar_entities_refused_total",
    "Producer-named entities off the watchlist dropped from events: their source was over its daily quota",
)
LATE_EVENTS = Counter(
    "radar_late_events_total", "Scored events whose minute was already closed (dead-lettered, not counted)"
)
ALERTS = Counter("radar_alerts_total", "Alerts raised", ["detector", "severity"])
RESOLVED = Counter("radar_alerts_resolved_total", "Alerts resolved (detector normal again)", ["detector", "severity"])
CONSUMER_LAG = Gauge("radar_consumer_lag_messages", "Messages behind the high watermark", ["topic", "partition"])
EVENTS_IN_FLIGHT = Gauge("radar_events_in_flight", "Events taken from Kafka and not yet published as scored")
CLOSE_DELAY = Gauge(
    "radar_close_delay_seconds", "How far the last closed minute's end lags behind the wall clock (closer)"
)

_Stage = TypeVar("_Stage")
_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def counts_in_flight(
    score: Callable[[_Stage, Sequence[_Item]], Awaitable[_Result]],
) -> Callable[[_Stage, Sequence[_Item]], Awaitable[_Result]]:
    """Decorates a stage's ``score_batch(items)``: its items count in :data:`EVENTS_IN_FLIGHT` until it returns,
    raises or is cancelled (a batch held back is in flight no more: it will be consumed again)."""

    @functools.wraps(score)
    async def counted(stage: _Stage, items: Sequence[_Item]) -> _Result:
        EVENTS_IN_FLIGHT.inc(len(items))
        try:
            return await score(stage, items)
        finally:
            EVENTS_IN_FLIGHT.dec(len(items))

    return counted
