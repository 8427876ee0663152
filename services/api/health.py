"""Liveness and readiness. /healthz: the process answers (restart it if not). /readyz: SQL, Redis and Kafka answer
(send it traffic only then); each check is bounded, and the answer names what is missing."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from storage.health import redis_problem, sql_problem

__all__ = ["router"]

router = APIRouter()
_CHECK_TIMEOUT_S = 5.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "a dependency does not answer; `checks` says which and why"}},
)
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    names = ("sql", "redis", "kafka")
    probes = (
        asyncio.to_thread(sql_problem, state.engine),
        redis_problem(state.settings.redis_url),
        state.publisher.problem(),
    )
    results = await asyncio.gather(*(_bounded(probe) for probe in probes))
    checks = {name: problem or "ok" for name, problem in zip(names, results, strict=True)}
    ready = all(problem is None for problem in results)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


async def _bounded(probe: object) -> str | None:
    try:
        return await asyncio.wait_for(probe, _CHECK_TIMEOUT_S)  # type: ignore[arg-type]
    except TimeoutError:
        return f"no answer within {_CHECK_TIMEOUT_S:g} s"
