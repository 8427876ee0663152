"""Per-entity sensitivity: a noisy entity's alerts below its ``min_severity`` are not raised.

The filter is pure (:func:`keep`); :class:`SensitivitySink` puts it in front of the closer's real sink, so an alert
it drops is neither recorded, nor published, nor delivered. Everything else the closer hands the sink (the
minute's rollups, and whatever else it may pass, such as alert resolutions) goes through unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from core.domain import Severity

__all__ = ["Emitter", "SensitivitySink", "keep"]

log = logging.getLogger("radar.sensitivity")
A = TypeVar("A")


class Emitter(Protocol):
    """What the closer hands a closed minute to (:class:`stream.closer.DetectionSink`, whatever else it passes)."""

    async def emit(self, minute: int, alerts: Any, rollups: Any, *args: Any, **kwargs: Any) -> None: ...


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
    """A sink that drops the alerts below their entity's ``min_severity``, then hands the minute to ``sink``.

    ``thresholds`` is read at every minute (the workers' live watchlist, refreshed from SQL); every other argument
    of ``emit`` is forwarded as it came.
    """

    def __init__(self, sink: Emitter, thresholds: Callable[[], Mapping[str, Severity]]) -> None:
        self.sink, self.thresholds = sink, thresholds

    async def emit(self, minute: int, alerts: Sequence[Any], rollups: Any, *args: Any, **kwargs: Any) -> None:
        kept = keep(alerts, self.thresholds())
        if len(kept) < len(alerts):
            log.info(
                "minute %d: %d alert(s) below their entity's min_severity not raised", minute, len(alerts) - len(kept)
            )
        await self.sink.emit(minute, kept, rollups, *args, **kwargs)
