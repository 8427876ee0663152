"""Liveness and readiness. /healthz: the process answers (restart it if not). /readyz: SQL, Redis and Kafka answer
(send it traffic only then); each check is bounded, and the answer names what is missing, never why: the reason
(which can name internal hosts and ports) goes to the log. The answer is kept for :data:`CACHE_S`, one probe at a
time, so a flood of /readyz cannot open a flood of connections to the stores."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from storage.health import redis_problem, sql_problem

__all__ = ["router"]

router = APIRouter()
log = logging.getLogger("radar.api.health")
_CHECK_TIMEOUT_S = 5.0
CACHE_S = 2.0
_NAMES = ("sql", "redis", "kafka")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "a dependency does not answer; `checks` says which and why"}},
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    if not hasattr(state, "readiness_lock"):
        state.readiness_lock, state.readiness = asyncio.Lock(), (float("-inf"), {})
    async with state.readiness_lock:
        at, checks = state.readiness
        if time.monotonic() - at > CACHE_S:
            checks = await _probe(state)
            state.readiness = (time.monotonic(), checks)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


async def _probe(state: object) -> dict[str, str]:
    probes = (
        asyncio.to_thread(sql_problem, state.engine),  # type: ignore[attr-defined]
        redis_problem(state.settings.redis_url),  # type: ignore[attr-defined]
        state.publisher.problem(),  # type: ignore[attr-defined]
    )
    results = await asyncio.gather(*(_bounded(probe) for probe in probes))
    for name, problem in zip(_NAMES, results, strict=True):
        if problem is not None:
            log.warning("readiness: %s is unavailable: %s", name, problem)
    return {name: "ok" if problem is None else "unavailable" for name, problem in zip(_NAMES, results, strict=True)}


async def _bounded(probe: object) -> str | None:
    try:
        return await asyncio.wait_for(probe, _CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except TimeoutError:
        return f"no answer within {_CHECK_TIMEOUT_S:g} s"
