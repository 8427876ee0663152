"""The FastAPI application, built from a Settings object (no clients at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.kafka_io.producer import EventProducer
from services.settings import Settings
from storage.db import make_engine, make_sessionmaker, upgrade

__all__ = ["create_app", "create_app_from_env"]

_DASHBOARD = Path(__file__).resolve().parent / "static" / "dashboard.html"


class LazyProducer:
    """The Kafka producer, made on first ingest: the read API and dashboard work while Kafka is away."""

    def __init__(self, settings: Settings, producer: EventProducer | None = None) -> None:
        self.settings, self._producer = settings, producer

    def get(self) -> EventProducer:
        if self._producer is None:
            self._producer = EventProducer(self.settings)
        return self._producer

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()


def create_app_from_env() -> FastAPI:
    """The factory ``radar api --workers N`` gives uvicorn: each worker process builds its own Settings."""
    return create_app(Settings())


def create_app(settings: Settings, *, producer: EventProducer | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        upgrade(engine)
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        app.state.producer = LazyProducer(settings, producer)
        try:
            yield
        finally:
            if producer is None:
                app.state.producer.close()
            engine.dispose()

    app = FastAPI(title="Opinion Radar", version="0.1.0", lifespan=lifespan)
    from services.api import ingest, queries

    app.include_router(ingest.router)
    app.include_router(queries.router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard() -> HTMLResponse:
        return HTMLResponse(_DASHBOARD.read_text())

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
