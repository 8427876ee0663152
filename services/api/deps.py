"""Dependencies of the routes: settings, the producer, bearer-token checks."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.kafka_io.producer import EventProducer
from services.settings import Settings

__all__ = ["ProducerDep", "SettingsDep", "require_ingest_token", "require_read_token"]

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_producer(request: Request) -> EventProducer:
    producer: EventProducer = request.app.state.producer.get()
    return producer


SettingsDep = Annotated[Settings, Depends(get_settings)]
ProducerDep = Annotated[EventProducer, Depends(get_producer)]


def _check(credentials: HTTPAuthorizationCredentials | None, *tokens: str) -> None:
    if credentials is None or not any(hmac.compare_digest(credentials.credentials, t) for t in tokens):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"}
        )


def require_ingest_token(settings: SettingsDep, credentials: Credentials) -> None:
    _check(credentials, settings.api_token.get_secret_value())


def require_read_token(settings: SettingsDep, credentials: Credentials) -> None:
    """Dashboards and queries take the read-only token; the ingest token may read too."""
    _check(credentials, settings.api_read_token.get_secret_value(), settings.api_token.get_secret_value())
