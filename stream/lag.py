"""How far behind a worker is, as Prometheus gauges, so that falling behind shows up on the dashboards before the
alerts do: consumer lag per assigned partition (high watermark minus committed offset), and the delay of minute
closing behind the wall clock."""

from __future__ import annotations

from typing import Any

import faust

from stream.metrics import CLOSE_DELAY, CONSUMER_LAG

__all__ = ["register_lag_gauge", "report_close_delay"]


def report_close_delay(closed_through: int | None, now: float) -> float | None:
    """Set :data:`stream.metrics.CLOSE_DELAY` to how far the end of the last closed minute (an epoch minute) lags
    behind ``now`` (epoch seconds); left alone until a minute has closed. Returns the delay.

    >>> report_close_delay(29_000_000, now=29_000_001 * 60 + 42.5)  # the minute ended 42.5 s ago
    42.5
    """
    if closed_through is None:
        return None
    delay = max(now - (closed_through + 1) * 60, 0.0)
    CLOSE_DELAY.set(delay)
    return delay


def register_lag_gauge(app: faust.App, interval_s: float = 5.0) -> Any:
    @app.timer(interval=interval_s)
    async def report_lag() -> None:
        committed = app.monitor.tp_committed_offsets or {}
        for tp in app.consumer.assignment():
            try:
                end = app.consumer.highwater(tp)
            except (KeyError, AssertionError):  # not fetched yet
                continue
            position = committed.get(tp)
            if end is not None and position is not None:
                CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(end - position, 0))

    return report_lag
