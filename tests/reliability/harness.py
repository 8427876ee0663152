"""The fault tests' pipeline (localdev.pipeline_run, on fresh topics, a fresh Redis prefix and a fresh PostgreSQL
database): the smoke scenario it replays, and the checks every fault test ends with."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import select

from core.settings import Settings
from core.webhook_signing import verify
from inference.dataset import fetch_vader_sdist, parse_sdist
from localdev.history import history_states, save_states
from localdev.pipeline_run import PipelineRun
from localdev.scenarios import SCENARIOS, Scenario, generate
from storage.aggregates import AggregateStore
from storage.models import Alert, EntityMinuteStat
from stream.entities import load_watchlist

START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)
_SCENARIO: dict[str, Scenario] = {}
_STATES: dict[str, dict[str, dict[str, Any]]] = {}  # its entities' warmed detectors, the same for every test


async def smoke_scenario(settings: Settings) -> Scenario:
    """60 simulated minutes, 3 entities, a volume storm on ACME from minute 35 (seeded, cached); the entities'
    detectors in this test's Redis namespace have ten days of history, as a long-running worker's would."""
    if "smoke" not in _SCENARIO:
        texts = parse_sdist(fetch_vader_sdist(settings.cache_dir))
        _SCENARIO["smoke"] = generate(
            SCENARIOS["smoke"], texts, load_watchlist(settings.watchlist), seed=21, start=START
        )
        _STATES["smoke"] = history_states(_SCENARIO["smoke"])
    await save_states(settings, _STATES["smoke"])
    return _SCENARIO["smoke"]


class Pipeline(PipelineRun):
    """The fault tests' pipeline: a run of the smoke scenario, and the invariants every fault test ends with."""

    async def started(self, workers: int = 2) -> Scenario:
        """The smoke scenario, with its history seeded, and ``workers`` workers and a dispatcher running: where
        every fault test starts."""
        scenario = await smoke_scenario(self.settings)
        for i in range(workers):
            self.start_worker(f"worker-{i + 1}")
        self.start_dispatcher()
        return scenario

    async def check(self, scenario: Scenario, *, malformed: int = 0) -> dict[str, Any]:
        """The invariants: exact counts, the incident alerted once, every alert delivered once, every bad record
        dead-lettered with a reason, every process alive. Returns the figures for the report."""
        first = int(START.timestamp() // 60)
        await self.wait_closed(first + 58)
        store = AggregateStore(aioredis.from_url(self.settings.redis_url), prefix=self.settings.redis_prefix)
        series = {e: await store.series(e, first, first + 59) for e in ("ACME", "GLBX", "INIT")}
        await store.client.aclose()
        counted = {e: sum(s.n for s in minutes) for e, minutes in series.items()}
        expected = dict(Counter(e["meta"]["entity"] for e in scenario.events))
        if counted != expected:  # name what became of the missing: a late dead letter says which minute closed early
            late = [x.reason for x in self.dead_letters(distinct=10**9, timeout_s=5) if x.reason.startswith("late")]
            raise AssertionError(f"counted {counted}, produced {expected}; late dead letters: {late}")
        with self.sessions() as session:
            alerts = list(session.scalars(select(Alert)))
            rollups = session.scalars(select(EntityMinuteStat).where(EntityMinuteStat.entity != "_all"))
            rolled = {(r.entity, int(r.minute.replace(tzinfo=UTC).timestamp() // 60) - first): r.n for r in rollups}
        final = {(e, i): s.n for e, minutes in series.items() for i, s in enumerate(minutes[:59]) if s.n}
        incomplete = sorted(k for k in final.keys() | rolled.keys() if k[1] < 59 and final.get(k) != rolled.get(k))
        assert not incomplete, f"minutes closed before all their events were counted: {incomplete}"
        assert alerts and {a.entity for a in alerts} == {"ACME"}, [(a.entity, a.detector) for a in alerts]
        assert Counter(a.detector for a in alerts)["volume_spike"] == 1
        self.wait_delivered(len(alerts))
        ok = self.receiver.delivered()
        ids_per_event: dict[tuple[str, str], set[str]] = {}  # (alert, opened | resolved): one id for all retries
        for headers, body, _ in self.receiver.received:
            payload = json.loads(body)
            ids_per_event.setdefault((payload["data"]["key"], payload["type"]), set()).add(headers["webhook-id"])
        assert {json.loads(b)["data"]["key"] for _, b in ok} == {a.alert_key for a in alerts}
        assert all(len(ids) == 1 for ids in ids_per_event.values()), ids_per_event
        assert all(verify(self.secret, h, b, check_time=False) for h, b in ok)
        duplicate_letters = 0
        if malformed:
            letters = self.dead_letters(distinct=malformed)
            where = Counter((x.source_topic, x.partition, x.offset) for x in letters)
            assert len(where) == malformed and all(x.reason for x in letters), (len(letters), len(where))
            duplicate_letters = len(letters) - len(where)  # at-least-once: a rebalance may repeat a batch
        self.alive()
        return {
            "events": len(scenario.events),
            "counted": sum(counted.values()),
            "minutes_closed": len(rolled),
            "minutes_incomplete": len(incomplete),
            "alerts": len(alerts),
            "webhook_requests": len(self.receiver.received),
            "delivered": len(ok),
            "dead_letters": malformed,
            "duplicate_dead_letters": duplicate_letters,
        }
