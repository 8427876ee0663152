"""Per-entity sensitivity (stream.sensitivity): alerts below their entity's min_severity are dropped before the
real sink (so neither recorded, published nor delivered); the rest of the closed minute, its rollups and the
closer's resolutions, goes through unchanged; the thresholds are read again at every minute."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.alerts import Alert
from core.domain import MinuteStats, Rollup, Severity
from core.samples import sample_alert
from stream.minute_sink import ClosedMinute
from stream.sensitivity import SensitivitySink, keep

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def alert(entity: str, severity: str, detector: str = "volume_spike") -> Alert:
    return sample_alert(entity, detector, start=START, severity=Severity(severity), message=f"{entity}: {severity}")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[ClosedMinute] = []

    async def emit(self, closed: ClosedMinute) -> None:
        self.calls.append(closed)


@pytest.mark.parametrize(
    ("floor", "kept"),
    [
        (None, ["info", "warning", "high", "critical"]),
        (Severity.INFO, ["info", "warning", "high", "critical"]),
        (Severity.WARNING, ["warning", "high", "critical"]),
        (Severity.HIGH, ["high", "critical"]),
        (Severity.CRITICAL, ["critical"]),
    ],
)
def test_keep_drops_what_is_below_the_entitys_floor(floor: Severity | None, kept: list[str]) -> None:
    alerts = [alert("ACME", s.value) for s in Severity]
    thresholds = {"ACME": floor} if floor is not None else {}
    assert [a.severity.value for a in keep(alerts, thresholds)] == kept


def test_other_entities_and_json_alerts_are_judged_by_their_own_floor() -> None:
    alerts = [alert("ACME", "warning").to_json(), alert("GLBX", "warning").to_json(), alert("INIT", "info").to_json()]
    kept = keep(alerts, {"ACME": Severity.HIGH, "INIT": Severity.INFO})
    assert [a["entity"] for a in kept] == ["GLBX", "INIT"]


def test_a_resolution_in_the_alerts_always_passes() -> None:
    resolved = alert("ACME", "warning").resolved(START)
    assert keep([resolved], {"ACME": Severity.CRITICAL}) == [resolved]


async def test_the_sink_filters_then_forwards_everything_else_unchanged() -> None:
    real = Recorder()
    thresholds = {"ACME": Severity.HIGH}
    sink = SensitivitySink(real, lambda: thresholds)
    rollups = (Rollup("ACME", 7, MinuteStats(n=2)),)
    resolutions = (alert("ACME", "info").resolved(START),)  # a low one, opened before the floor went up
    await sink.emit(ClosedMinute(7, (alert("ACME", "warning"), alert("ACME", "critical")), rollups, resolutions))
    passed = real.calls[0]
    assert passed.minute == 7 and [a.severity for a in passed.opened] == [Severity.CRITICAL]
    assert passed.rollups is rollups and passed.resolved is resolutions
    await sink.emit(ClosedMinute(8, (alert("ACME", "warning"),), resolved=resolutions))
    assert real.calls[1].opened == () and real.calls[1].resolved is resolutions


async def test_the_thresholds_are_read_at_every_minute() -> None:
    real = Recorder()
    thresholds: dict[str, Severity] = {}
    sink = SensitivitySink(real, lambda: thresholds)
    await sink.emit(ClosedMinute(1, (alert("ACME", "warning"),)))
    thresholds["ACME"] = Severity.CRITICAL  # the watchlist was refreshed meanwhile
    await sink.emit(ClosedMinute(2, (alert("ACME", "warning"),)))
    assert [len(call.opened) for call in real.calls] == [1, 0]


async def test_the_aggregate_agents_closer_filters_with_the_live_watchlist() -> None:
    """SharedCloser puts the filter in front of the sink the worker gives it, with the watchlist's thresholds."""
    from core.settings import Settings
    from core.watchlist import Entity
    from stream.aggregate_agent import SharedCloser
    from stream.watchlist import LiveWatchlist

    class Source:
        name = "fake SQL"
        entities = [Entity("ACME", ("Acme",), min_severity=Severity.HIGH)]

        def read(self) -> list[Entity]:
            return list(self.entities)

    real = Recorder()

    async def sink_factory(app: Any) -> Recorder:
        return real

    watchlist = LiveWatchlist(Source())
    await watchlist.ready()
    shared = SharedCloser(object(), Settings(), sink_factory, watchlist)  # type: ignore[arg-type]
    store, closer = await shared.get()
    try:
        await closer.sink.emit(ClosedMinute(1, (alert("ACME", "warning"), alert("GLBX", "info"))))
        Source.entities = []  # the entity removed: its alerts are no longer filtered
        await watchlist.refresh()
        await closer.sink.emit(ClosedMinute(2, (alert("ACME", "warning"),)))
    finally:
        await store.client.aclose()
    assert [[a.entity for a in call.opened] for call in real.calls] == [["GLBX"], ["ACME"]]
