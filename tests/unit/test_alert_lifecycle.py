"""The alert lifecycle without services: when detection resolves an alert (pure), what the closer hands the sinks,
how the store records a resolution and an acknowledgement, and how both webhook formats announce it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import sessionmaker

from core.alerts import Alert, AlertEvent, Evidence, StoredAlert
from core.domain import AlertStatus, DetectorName, MinuteStats, Severity, minute_start
from core.errors import Conflict, NotFound
from core.samples import sample_alert
from services.webhooks.payloads import render
from storage.aggregates import ScoredItem
from storage.alerts_repo import acknowledge_alert, alert_from_row, get_alert, list_alerts, record_minute
from storage.memory_aggregates import MemoryAggregateStore
from storage.models import Alert as AlertRow
from storage.models import Base, WebhookDelivery
from storage.subscriptions import add_subscription
from stream.backlog import Backlog
from stream.closer import MinuteCloser
from stream.detect import STATE_VERSION, EntityDetectors, detect_minute, resolve_after_minutes
from stream.detectors import OpenAlerts
from stream.detectors.policy import MAX_OPEN, AlertPolicy
from stream.minute_sink import ClosedMinute

QUIET = MinuteStats(n=4, negative=1, neutral=1, positive=2, total=0.5, total_sq=1.6)
STORM = MinuteStats(n=40, negative=34, neutral=4, positive=2, total=-26.0, total_sq=24.0)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BASE = int(T0.timestamp() // 60)
# states the release before the detector seam (issue 22) stored, made by its code: 30 QUIET minutes from minute 0;
# 60 QUIET and 2 STORM minutes (three alerts open)
V1_STATES = json.loads((Path(__file__).parents[1] / "support" / "detector_states_v1.json").read_text())


def _run(detectors: EntityDetectors, stream: Sequence[MinuteStats], first: int, after: int) -> dict[str, list[int]]:
    """Feed ``stream`` from minute ``first``; the minutes at which each detector's alerts open and resolve."""
    events: dict[str, list[int]] = {}
    for minute, stats in enumerate(stream, first):
        found = detect_minute(detectors, "ACME", minute, stats, resolve_after=after)
        for alert in found.opened:
            events.setdefault(f"open {alert.detector}", []).append(minute)
        for alert in found.resolved:
            assert alert.status is AlertStatus.RESOLVED and alert.resolved_at == minute_start(minute + 1)
            events.setdefault(f"resolve {alert.detector}", []).append(minute)
    return events


def _storm_then(after_storm: Sequence[MinuteStats], *, after: int) -> dict[str, list[int]]:
    """An hour of calm, a 4-minute storm at minutes 60-63, then ``after_storm``."""
    return _run(EntityDetectors(), [QUIET] * 60 + [STORM] * 4 + list(after_storm), 0, after)


@pytest.mark.parametrize("after", [1, 5, 15, 40])
def test_alerts_resolve_after_the_detector_stayed_normal_that_many_minutes(after: int) -> None:
    events = _storm_then([QUIET] * 80, after=after)
    assert events["open volume_spike"] == events["open sentiment_shift"] == events["open negative_surge"] == [60]
    # volume is back to normal at once (minute 64); the windowed tests once the 3-minute window is calm (66)
    assert events["resolve volume_spike"] == [63 + after]
    assert events["resolve sentiment_shift"] == events["resolve negative_surge"] == [65 + after]


def test_a_relapse_before_the_resolve_period_starts_the_count_again() -> None:
    relapse = [QUIET] * 10 + [STORM] * 2 + [QUIET] * 40
    events = _storm_then(relapse, after=15)
    assert events["open volume_spike"] == [60], "the relapse is the same episode: no second volume alert"
    assert events["resolve volume_spike"] == [75 + 15], "15 normal minutes after the relapse (74-75)"
    # the windowed detectors closed their episode at 66: the relapse in their cooldown raises nothing but is no
    # normal minute either; their window is calm again from minute 78
    assert events["open sentiment_shift"] == [60] and events["resolve sentiment_shift"] == [77 + 15]


def test_a_state_stored_mid_episode_resolves_as_if_the_worker_never_stopped() -> None:
    stream = [QUIET] * 60 + [STORM] * 4 + [QUIET] * 40
    straight = _run(EntityDetectors(), stream, 0, 15)
    for cut in (62, 70, 78):
        restarted = EntityDetectors()
        _run(restarted, stream[:cut], 0, 15)
        restarted = EntityDetectors.from_state(json.loads(json.dumps(restarted.to_state())))
        later = _run(restarted, stream[cut:], cut, 15)
        assert later == {k: [m for m in v if m >= cut] for k, v in straight.items() if any(m >= cut for m in v)}


def test_a_state_stored_before_the_lifecycle_still_loads() -> None:
    old = dict(V1_STATES["quiet_30"])  # 30 quiet minutes, as the release before the detector seam stored them
    del old["open_alerts"]  # what a worker of the release before the lifecycle stored
    for policy in old["policies"].values():
        assert set(policy) == set(AlertPolicy().to_state())  # the policy's own state is unchanged
    restored = EntityDetectors.from_state(json.loads(json.dumps(old)))
    events = _run(restored, [QUIET] * 30 + [STORM] * 4 + [QUIET] * 30, 30, 15)
    assert events["open volume_spike"] == [60] and events["resolve volume_spike"] == [78]


def test_a_state_stored_mid_episode_by_the_previous_release_resolves_as_it_would_have() -> None:
    """The previous layout is read, not misread: the windowed detectors it held go on as if the worker had never
    stopped; the series detector under volume_spike has a newer state version since, so it learns afresh and its
    open alert is kept and resolves once the fresh detector reads the quiet as normal; the sequential test, new,
    starts afresh (and raises nothing on the storm's tail it learns from)."""
    stream = [QUIET] * 60 + [STORM] * 4 + [QUIET] * 40
    straight = _run(EntityDetectors(), stream, 0, 15)
    restored = EntityDetectors.from_state(json.loads(json.dumps(V1_STATES["storm_62"])))
    held = restored.open_alerts[DetectorName.VOLUME_SPIKE].alerts
    assert [a.key for a in held] == ["ACME:volume_spike:1970-01-01T01:00Z"]
    later = _run(restored, stream[62:], 62, 15)
    windowed = ("sentiment_shift", "negative_surge")
    assert {k: v for k, v in later.items() if k.endswith(windowed)} == {
        k: [m for m in v if m >= 62] for k, v in straight.items() if k.endswith(windowed) and any(m >= 62 for m in v)
    }
    assert set(later) == {f"resolve {name}" for name in (*windowed, "volume_spike")}
    assert 62 + 14 <= later["resolve volume_spike"][0] <= straight["resolve volume_spike"][0]  # 15 normal minutes
    again = EntityDetectors.from_state(restored.to_state())
    assert again.to_state() == restored.to_state() and again.to_state()["version"] == STATE_VERSION


def test_open_alerts_are_bounded() -> None:
    def alert(i: int) -> Alert:
        return sample_alert(
            "A", DetectorName.VOLUME_SPIKE, start=T0 + timedelta(minutes=i), key=f"A:x:{i}", severity=Severity.INFO
        )

    lifecycle = OpenAlerts()
    overflow = [
        a for i in range(MAX_OPEN + 3) for a in lifecycle.observe([alert(i)], normal=False, resolve_after=5, at=T0)
    ]
    assert [a.key for a in overflow] == ["A:x:0", "A:x:1", "A:x:2"] and len(lifecycle.alerts) == MAX_OPEN


def test_resolve_after_counts_whole_closed_minutes() -> None:
    assert [resolve_after_minutes(s) for s in (1, 59, 60, 61, 900, 0.5)] == [1, 1, 1, 2, 15, 1]


class _Sink:
    def __init__(self) -> None:
        self.opened: list[Alert] = []
        self.resolved: list[tuple[int, Alert]] = []

    async def emit(self, closed: ClosedMinute) -> None:
        self.opened += closed.opened
        self.resolved += [(closed.minute, alert) for alert in closed.resolved]


class _Nothing:
    async def snapshot(self) -> Backlog:
        return Backlog()


def _minute(minute: int, stats: MinuteStats) -> list[ScoredItem]:
    at = T0 + timedelta(minutes=minute, seconds=20)
    scores = [-0.9] * stats.negative + [0.0] * stats.neutral + [0.6] * stats.positive
    labels = ["negative"] * stats.negative + ["neutral"] * stats.neutral + ["positive"] * stats.positive
    return [
        ScoredItem(f"m{minute}-{i}", "social", ("ACME",), label, score, at, f"text {minute}-{i}", source=f"src-{i % 2}")
        for i, (label, score) in enumerate(zip(labels, scores, strict=True))
    ]


async def test_the_closer_hands_the_sinks_resolutions_with_their_evidence() -> None:
    store, sink = MemoryAggregateStore(), _Sink()
    closer = MinuteCloser(store, sink, _Nothing(), lateness_s=30, idle_grace_s=60, resolve_after_s=300)
    stream = [QUIET] * 60 + [STORM] * 4 + [QUIET] * 30
    for minute, stats in enumerate(stream):
        await store.add_batch(_minute(minute, stats))
    wall = (T0 + timedelta(days=1)).timestamp()
    await closer.close_ready(wall)
    await closer.close_ready(wall + 100)
    resolved = {alert.detector: (minute - BASE, alert) for minute, alert in sink.resolved}
    # volume and the windowed tests as before; the sequential test 5 minutes after both its sums fell by half (73:
    # the odds-2.5 sum, less sure of calm minutes, falls slower than the odds-6 one, which took until 66)
    expected = {"volume_spike": 68, "sentiment_shift": 70, "negative_surge": 70, "negative_cusum": 78}
    assert {d: m for d, (m, _) in resolved.items()} == expected
    opened = {alert.key: alert for alert in sink.opened}
    for _, alert in resolved.values():
        assert alert.key in opened and alert.evidence == opened[alert.key].evidence, "the same evidence as it opened"
        assert alert.evidence and {e.source for e in alert.evidence} <= {"src-0", "src-1"}
    await store.set_closed_through(BASE + 65)  # a crash: the minutes close again, nothing resolves twice
    await closer.close_ready(wall + 200)
    assert len(sink.resolved) == 4


EVIDENCE = [Evidence(id="e1", text="bad news", score=-0.9, source="wire")]


def _alert(entity: str = "ACME", severity: Severity = Severity.HIGH) -> Alert:
    return sample_alert(entity, start=T0, severity=severity, evidence=EVIDENCE)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'radar.db'}")
    Base.metadata.create_all(engine)
    with sessionmaker(engine).begin() as session:
        for name, floor in (("all", "info"), ("critical", "critical")):
            add_subscription(
                session, name=name, url="http://hook.invalid", secret="whsec_eA==", min_severity=floor, now=T0
            )
    yield engine
    engine.dispose()


def _deliveries(engine: Engine) -> list[tuple[str, str, str]]:
    with sessionmaker(engine)() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
        return [(d.alert.alert_key, d.subscription.name, d.event) for d in rows]


def test_the_store_resolves_once_with_one_resolved_delivery_per_matching_subscription(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    opened_at, resolved_at = T0 + timedelta(minutes=2), T0 + timedelta(minutes=20)
    with sessions.begin() as session:
        record_minute(session, alerts=[_alert()], rollups=[], now=opened_at)
    with sessions() as session:
        stored = alert_from_row(session.scalars(select(AlertRow)).one())
    assert (stored.status, stored.opened_at, stored.created_at, stored.resolved_at) == (
        "open",
        T0 + timedelta(minutes=1),  # event time: the end of its window
        opened_at,
        None,
    )
    for _ in range(2):  # a minute closed again resolves nothing twice
        with sessions.begin() as session:
            record_minute(session, alerts=[], rollups=[], resolved=[_alert().resolved(resolved_at)])
    with sessions() as session:
        stored = alert_from_row(session.scalars(select(AlertRow)).one())
        assert [a.id for a in list_alerts(session, status=AlertStatus.RESOLVED)] == [stored.id]
        assert list_alerts(session, status=AlertStatus.OPEN) == []
    assert (stored.status, stored.resolved_at, stored.evidence) == (AlertStatus.RESOLVED, resolved_at, EVIDENCE)
    assert _deliveries(engine) == [(stored.key, "all", "opened"), (stored.key, "all", "resolved")]
    with sessions.begin() as session:  # a resolution of an alert nobody recorded changes nothing
        record_minute(session, alerts=[], rollups=[], resolved=[_alert("GLBX").resolved(resolved_at)])
    assert len(_deliveries(engine)) == 2


def test_acknowledging_is_idempotent_and_refused_once_resolved(engine: Engine) -> None:
    sessions = sessionmaker(engine)
    with sessions.begin() as session:
        record_minute(session, alerts=[_alert(), _alert("GLBX", Severity.CRITICAL)], rollups=[], now=T0)
    with sessions.begin() as session:
        first = acknowledge_alert(session, alert_id=1, by="alice", now=T0 + timedelta(minutes=3))
        assert (first.status, first.acknowledged_by) == ("acknowledged", "alice")
    with sessions.begin() as session:
        again = alert_from_row(acknowledge_alert(session, alert_id=1, by="bob", now=T0 + timedelta(minutes=9)))
    assert (again.acknowledged_by, again.acknowledged_at) == ("alice", T0 + timedelta(minutes=3)), "the first stands"
    with sessions.begin() as session:  # an acknowledged alert resolves too
        record_minute(session, alerts=[], rollups=[], resolved=[_alert().resolved(T0 + timedelta(minutes=30))])
    with sessions() as session:
        done = alert_from_row(get_alert(session, alert_id=1))  # type: ignore[arg-type]
        assert (done.status, done.acknowledged_by) == (AlertStatus.RESOLVED, "alice")
        with pytest.raises(Conflict, match=r"alert 1 .* is resolved"):
            acknowledge_alert(session, alert_id=1, by="carol")
        with pytest.raises(NotFound, match="no alert with id 7"):
            acknowledge_alert(session, alert_id=7, by="carol")
        assert get_alert(session, alert_id=7) is None
    keys = [(s, e) for _, s, e in _deliveries(engine)]
    assert keys == [("all", "opened"), ("all", "opened"), ("critical", "opened"), ("all", "resolved")]


def _stored(**lifecycle: object) -> StoredAlert:
    return StoredAlert(**{**dict(_alert()), **lifecycle}, id=7, created_at=T0 + timedelta(minutes=2))


def test_webhooks_announce_the_opening_and_the_resolution() -> None:
    resolved_at = T0 + timedelta(minutes=20)
    opened, resolved = _stored(), _stored(status=AlertStatus.RESOLVED, resolved_at=resolved_at)
    radar_opened = json.loads(render("radar", opened, receiver="r", external_url="http://radar.invalid"))
    radar_resolved = json.loads(
        render("radar", resolved, receiver="r", external_url="http://radar.invalid", event=AlertEvent.RESOLVED)
    )
    assert (radar_opened["type"], radar_opened["timestamp"]) == ("alert.opened", "2026-03-02T09:02:00+00:00")
    assert (radar_resolved["type"], radar_resolved["timestamp"]) == ("alert.resolved", "2026-03-02T09:20:00+00:00")
    assert radar_resolved["data"]["status"] == "resolved" and radar_resolved["data"]["id"] == 7
    firing = json.loads(render("alertmanager", opened, receiver="r", external_url="http://x", event="opened"))
    done = json.loads(render("alertmanager", resolved, receiver="r", external_url="http://x", event="resolved"))
    assert (firing["status"], firing["alerts"][0]["status"]) == ("firing", "firing")
    assert firing["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert (done["status"], done["alerts"][0]["status"]) == ("resolved", "resolved")
    assert done["alerts"][0]["endsAt"] == resolved_at.isoformat()
    assert done["alerts"][0]["fingerprint"] == firing["alerts"][0]["fingerprint"], "the same alert to Alertmanager"


def test_a_detector_that_fires_again_before_its_alert_resolved_adds_no_second_alert() -> None:
    """A lull of one calm minute closes the 3-minute window test's episode and starts its 15-minute cooldown; the
    incident goes on (half its texts negative) and flares again after it. Until the first alert resolves, that is
    the same incident: one alert per detector, resolved once, when the whole episode is over."""
    calm = MinuteStats(n=10, negative=2, neutral=6, positive=2, total=0.0, total_sq=4.0)
    storm = MinuteStats(n=10, negative=9, neutral=1, positive=0, total=-8.0, total_sq=8.0)
    half = MinuteStats(n=10, negative=5, neutral=4, positive=1, total=-3.0, total_sq=5.0)
    minutes = [calm] * 60 + [storm] * 3 + [calm] * 3 + [half] * 14 + [storm] * 4 + [calm] * 40
    detectors = EntityDetectors()
    opened: list[tuple[int, DetectorName]] = []
    resolved: list[tuple[int, DetectorName]] = []
    for minute, stats in enumerate(minutes):
        found = detect_minute(detectors, "ACME", minute, stats)
        opened += [(minute, alert.detector) for alert in found.opened]
        resolved += [(minute, alert.detector) for alert in found.resolved]
    surge = DetectorName.NEGATIVE_SURGE
    assert [m for m, name in opened if name is surge] == [61]
    assert [m for m, name in resolved if name is surge] == [99]  # after the flare at 81-84, not before it
