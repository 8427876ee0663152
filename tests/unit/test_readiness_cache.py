"""/readyz answers from one probe per CACHE_S however many ask: a flood of probes opens no flood of connections."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
from fastapi import FastAPI
from sqlalchemy import create_engine

from localdev.serve import free_port
from services.api import health


def test_many_readiness_requests_share_one_probe() -> None:
    calls = []

    async def kafka_problem() -> None:
        calls.append(1)

    app = FastAPI()
    app.include_router(health.router)
    app.state.engine = create_engine("sqlite://")
    app.state.settings = SimpleNamespace(redis_url=f"redis://127.0.0.1:{free_port()}/0")  # nobody there
    app.state.publisher = SimpleNamespace(problem=kafka_problem)

    async def flood() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await asyncio.gather(*(client.get("/readyz") for _ in range(20)))

    answers = asyncio.run(flood())
    assert len(calls) == 1
    assert {a.status_code for a in answers} == {503}
    assert answers[0].json()["checks"] == {"sql": "ok", "redis": "unavailable", "kafka": "ok"}
