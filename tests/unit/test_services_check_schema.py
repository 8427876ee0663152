"""The services check the schema instead of migrating: the API refuses to start on a schema behind its release,
the worker's SQL sink and the dispatcher fail their write or round (retried) until ``radar db upgrade`` has run,
then carry on without a restart and without losing what waited."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select

from core.domain import MinuteStats, Rollup
from core.errors import StorageError
from core.settings import Settings
from services.api.app import create_app
from storage.db import make_engine, make_sessionmaker, schema_revision, upgrade
from storage.models import EntityMinuteStat


async def _healthz(app: FastAPI) -> httpx.Response:
    """Start the app as uvicorn would (its lifespan), then ask /healthz."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get("/healthz")


def _behind(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, revision="0001")
    return engine


async def test_the_api_refuses_to_start_on_a_schema_behind_its_release(tmp_path: Path) -> None:
    engine = _behind(tmp_path / "radar.db")
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'radar.db'}"))
    with pytest.raises(StorageError, match=r"this release needs \w+: run `radar db upgrade`"):
        await _healthz(app)
    assert schema_revision(engine).current == "0001"  # the API did not migrate it
    upgrade(engine)  # `radar db upgrade`
    assert (await _healthz(app)).json() == {"status": "ok"}
    engine.dispose()


async def test_the_api_creates_a_new_sqlite_file_for_a_zero_config_run(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'var' / 'radar.db'}"))
    assert (await _healthz(app)).status_code == 200
    engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'radar.db'}")
    assert schema_revision(engine).up_to_date
    engine.dispose()


async def test_the_sql_sink_retries_until_the_schema_is_upgraded(tmp_path: Path) -> None:
    from stream.minute_sink import ClosedMinute
    from stream.sinks import SqlAlertSink

    engine = _behind(tmp_path / "radar.db")
    sink = SqlAlertSink(engine)
    rollup = Rollup("ACME", 29_400_000, MinuteStats(n=3, negative=1, neutral=1, positive=1, total=0.2))
    for _ in range(2):  # the closer leaves the minute open and tries again
        with pytest.raises(StorageError, match="radar db upgrade"):
            await sink.emit(ClosedMinute(rollup.minute, rollups=(rollup,)))
    upgrade(engine)
    await sink.emit(ClosedMinute(rollup.minute, rollups=(rollup,)))
    with make_sessionmaker(engine)() as session:
        assert [(r.entity, r.n) for r in session.scalars(select(EntityMinuteStat))] == [("ACME", 3)]
    engine.dispose()


async def test_the_dispatcher_retries_its_first_round_until_the_schema_is_upgraded(tmp_path: Path) -> None:
    from services.webhooks.dispatcher import Dispatcher

    engine = _behind(tmp_path / "radar.db")
    dispatcher = Dispatcher(make_sessionmaker(engine), timeout_s=1.0)
    try:
        with pytest.raises(StorageError, match="radar db upgrade"):
            await dispatcher.run_once()
        assert schema_revision(engine).current == "0001"
        upgrade(engine)
        assert await dispatcher.run_once() == 0  # nothing due: an empty round
    finally:
        await dispatcher.close()
        engine.dispose()
