"""The FastAPI application, built from a Settings object (no clients at import time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.kafka_io.producer import EventProducer
from services.settings import Settings

__all__ = ["create_app"]


def create_app(settings: Settings, *, producer: EventProducer | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.producer = producer or EventProducer(settings)
        try:
            yield
        finally:
            if producer is None:
                app.state.producer.close()

    app = FastAPI(title="Opinion Radar", version="0.1.0", lifespan=lifespan)
    from services.api import ingest

    app.include_router(ingest.router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
