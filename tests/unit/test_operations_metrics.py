"""The worker's operations gauges and the prune command's ages, without Kafka, Triton or Redis: events in flight
rise while a batch waits for Kafka and fall when it is published, also when it is cancelled; the close delay is
how far the last closed minute's end lags the clock; ``--older-than`` takes d/h/m ages and nothing else."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import cast

import pytest
import typer
from prometheus_client import REGISTRY

from services.cli.db import parse_age
from stream.aggregate_agent import close_quietly
from stream.closer import MinuteCloser
from stream.lag import report_close_delay
from stream.score_stage import OutRecord
from tests.unit.test_score_stage import FakeModel, FakeSink, incoming, make_stage, raw


def _gauge(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


class HeldSink(FakeSink):
    """Kafka that takes nothing until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting, self.release = asyncio.Event(), asyncio.Event()

    async def send(self, record: OutRecord) -> None:
        self.waiting.set()
        await self.release.wait()
        await super().send(record)


async def test_events_are_in_flight_until_published() -> None:
    sink = HeldSink()
    stage = make_stage(FakeModel(), sink)
    await stage.start()
    base = _gauge("radar_events_in_flight")
    batch = asyncio.create_task(stage.score_batch(incoming(raw("a"), raw("b"), b"not json")))
    await sink.waiting.wait()
    assert _gauge("radar_events_in_flight") - base == 3  # taken from Kafka, not yet acknowledged by it
    sink.release.set()
    await batch
    assert _gauge("radar_events_in_flight") == base


async def test_a_cancelled_batch_is_no_longer_in_flight() -> None:
    sink = HeldSink()
    stage = make_stage(FakeModel(), sink)
    await stage.start()
    base = _gauge("radar_events_in_flight")
    batch = asyncio.create_task(stage.score_batch(incoming(raw("a"), raw("b"))))
    await sink.waiting.wait()
    batch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await batch
    assert _gauge("radar_events_in_flight") == base  # held back: consumed again after the restart


def test_close_delay_is_the_last_closed_minutes_lag_behind_the_clock() -> None:
    minute = 29_500_000
    assert report_close_delay(minute, now=(minute + 1) * 60 + 75.0) == 75.0
    assert _gauge("radar_close_delay_seconds") == 75.0
    assert report_close_delay(None, now=time.time()) is None  # nothing closed yet: left alone
    assert _gauge("radar_close_delay_seconds") == 75.0
    assert report_close_delay(minute, now=minute * 60 + 10) == 0.0  # never negative


async def test_closing_minutes_sets_the_close_delay() -> None:
    closed = int(time.time() // 60) - 3  # the minute that ended two to three minutes ago

    async def close_ready(now: float) -> int:
        return 1

    async def closed_through() -> int:
        return closed

    closer = SimpleNamespace(close_ready=close_ready, store=SimpleNamespace(closed_through=closed_through))
    await close_quietly(cast(MinuteCloser, closer))
    assert 120 <= _gauge("radar_close_delay_seconds") < 190


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("90d", timedelta(days=90)),
        ("36h", timedelta(hours=36)),
        ("45m", timedelta(minutes=45)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("2d3h4m", timedelta(days=2, hours=3, minutes=4)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_ages_in_days_hours_and_minutes(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "90", "d", "90x", "1.5d", "-5d", "0d", "0h0m", "5m3h", "99999999999d", "1 d"])
def test_anything_else_is_a_bad_parameter(text: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_age(text)
