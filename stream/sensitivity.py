"""Per-entity sensitivity: a noisy entity's alerts below its ``min_severity`` are not raised.

The filter is pure (:func:`keep`); :class:`SensitivitySink` puts it in front of the closer's real sink, so an alert
it drops is neither recorded, nor published, nor delivered. Everything else of the closed minute (its rollups, the
alerts it resolves) goes through unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from core.domain import Severity
from stream.minute_sink import ClosedMinute, MinuteSink

__all__ = ["SensitivitySink", "keep"]

log = logging.getLogger("radar.sensitivity")
A = TypeVar("A")


def _field(alert: Any, name: str) -> Any:
    return alert.get(name) if isinstance(alert, Mapping) else getattr(alert, name, None)


def keep(alerts: Sequence[A], min_severity_by_entity: Mapping[str, Severity]) -> list[A]:
    """The alerts at or above their entity's ``min_severity`` (an entity without one keeps every alert). An alert is
    the domain's :class:`core.alerts.Alert` or its JSON (a mapping with ``entity`` and ``severity``). A resolved one
    always passes: it closes an alert raised before its entity's threshold went up.

    >>> alerts = [{"entity": "ACME", "severity": "warning"}, {"entity": "ACME", "severity": "critical"},
    ...           {"entity": "GLBX", "severity": "info"}]
    >>> keep(alerts, {"ACME": Severity.HIGH})
    [{'entity': 'ACME', 'severity': 'critical'}, {'entity': 'GLBX', 'severity': 'info'}]
    """
    kept = []
    for alert in alerts:
        floor = min_severity_by_entity.get(_field(alert, "entity"))
        if floor is None or Severity(_field(alert, "severity")) >= floor or _field(alert, "status") == "resolved":
            kept.append(alert)
    return kept


class SensitivitySink:
    """A sink that drops the opened alerts below their entity's ``min_severity``, then hands the minute to ``sink``.

    ``thresholds`` is read at every minute (the workers' live watchlist, refreshed from SQL); the rest of the
    closed minute (rollups, resolutions) is forwarded as it came.
    """

    def __init__(self, sink: MinuteSink, thresholds: Callable[[], Mapping[str, Severity]]) -> None:
        self.sink, self.thresholds = sink, thresholds

    async def emit(self, closed: ClosedMinute) -> None:
        kept = keep(closed.opened, self.thresholds())
        dropped = len(closed.opened) - len(kept)
        if dropped:
            log.info("minute %d: %d alert(s) below their entity's min_severity not raised", closed.minute, dropped)
        await self.sink.emit(dataclasses.replace(closed, opened=tuple(kept)))
