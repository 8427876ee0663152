"""The FastAPI application, built from a Settings object (no clients at import time)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import OperationalError

from core.errors import ConfigError
from core.settings import Settings
from services.api.metrics import CONTENT_TYPE_LATEST, metrics_text
from services.api.publish import KafkaUnavailable, Publisher
from storage.db import make_engine, make_sessionmaker, require_current_schema
from stream.producer import EventProducer

__all__ = ["create_app", "create_app_from_env"]

_DASHBOARD = Path(__file__).resolve().parent / "static" / "dashboard.html"
log = logging.getLogger(__name__)
_DATABASE_RETRY_AFTER_S = 5
_PROMETHEUS_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}
}


async def _kafka_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Kafka away or too slow for ingest: 503 with Retry-After (see services.api.publish)."""
    retry_after = exc.retry_after_s if isinstance(exc, KafkaUnavailable) else _DATABASE_RETRY_AFTER_S
    return JSONResponse(
        {"detail": f"{exc}; retry after {retry_after} s"}, status_code=503, headers={"Retry-After": str(retry_after)}
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The SQL store down or unreachable is a 503 to retry, not a 500: the request itself was fine."""
    log.warning("API: the SQL store failed: %s", exc)
    return JSONResponse(
        {"detail": "the SQL store is unreachable; retry later"},
        status_code=503,
        headers={"Retry-After": str(_DATABASE_RETRY_AFTER_S)},
    )


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """FastAPI's 422, written as ASCII JSON: a JSON body may hold a lone surrogate ("\\ud800" decodes to one), which
    the echoed input would otherwise fail to encode as UTF-8 (a 500 for bad input)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    body = json.dumps({"detail": jsonable_encoder(errors)}, ensure_ascii=True, separators=(",", ":"))
    return Response(body, status_code=422, media_type="application/json")


def dashboard_headers(page: str) -> dict[str, str]:
    """The dashboard runs its one inline script and nothing else: a Content-Security-Policy that allows that script
    by its hash, fetches to this origin only, no framing (clickjacking of the Acknowledge button), no referrer (the
    URL may carry a token in its fragment until the page removes it).

    >>> h = dashboard_headers("<script>go()</script>")
    >>> "script-src 'sha256-" in h["Content-Security-Policy"], h["X-Frame-Options"]
    (True, 'DENY')
    """
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    policy = (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def create_app_from_env() -> FastAPI:
    """The factory ``radar api --workers N`` gives uvicorn: each worker process builds its own Settings, and checks
    them as ``radar api`` does (uvicorn started some other way must not serve a published token beyond loopback)."""
    from services.api.exposure import exposure_problem

    settings = Settings()
    problem = exposure_problem(settings.api_host, settings)
    if problem:
        raise ConfigError(problem)
    return create_app(settings)


def create_app(settings: Settings, *, producer: EventProducer | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Refuses to start (StorageError naming `radar db upgrade`) unless the schema is this release's; the API
        never migrates (a new, empty SQLite file excepted: see storage.db)."""
        engine = make_engine(settings.database_url)
        try:
            require_current_schema(engine)
        except BaseException:
            engine.dispose()
            raise
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.publisher = Publisher(settings, producer)
        try:
            yield
        finally:
            app.state.publisher.close()
            engine.dispose()

    app = FastAPI(title="Opinion Radar", version="0.1.0", lifespan=lifespan)
    from services.api import health, ingest, queries, watchlist
    from services.api.body_guard import BodyGuard

    app.add_middleware(BodyGuard, settings=settings)  # writes authenticated and bodies bounded before reading
    app.include_router(ingest.build_router(settings))
    app.include_router(queries.router)
    app.include_router(health.router)
    app.include_router(watchlist.router)
    app.add_exception_handler(KafkaUnavailable, _kafka_unavailable)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_request)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        page = _DASHBOARD.read_text()
        return HTMLResponse(page, headers=dashboard_headers(page))

    @app.get("/metrics", response_class=Response, responses=_PROMETHEUS_TEXT)
    async def metrics() -> Response:
        return Response(metrics_text(), media_type=CONTENT_TYPE_LATEST)

    return app
