"""Consumer lag per assigned partition (high watermark minus committed offset), exported as a Prometheus gauge,
so a worker that falls behind shows up on the dashboards before its alerts do."""

from __future__ import annotations

from typing import Any

import faust

from stream.metrics import CONSUMER_LAG

__all__ = ["register_lag_gauge"]


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
