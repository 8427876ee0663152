"""Dependencies of the routes: settings, the publisher, bearer-token checks."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.settings import Settings
from services.api.publish import Publisher

__all__ = ["PublisherDep", "SettingsDep", "require_ingest_token", "require_read_token", "token_matches"]

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


SettingsDep = Annotated[Settings, Depends(get_settings)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]


def _header_bytes(value: str) -> bytes:
    """The bytes the client sent: ASGI servers decode header values as Latin-1, so this undoes it exactly.

    A str that is not Latin-1 (only an in-process client can make one) is encoded so that it cannot fail either.
    """
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def token_matches(presented: str, expected: str) -> bool:
    """Constant-time comparison of a presented token with a configured one, whatever the presented bytes are.

    ``hmac.compare_digest`` raises TypeError on str with non-ASCII characters (``Bearer é`` was a 500), so
    both sides are compared as bytes.

    >>> token_matches("Ã©", "é"), token_matches("abc", "abc"), token_matches("\\ud800", "abc")
    (True, True, False)
    """
    return hmac.compare_digest(_header_bytes(presented), expected.encode("utf-8"))


def _presented(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


def _unauthorized() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token", headers=_UNAUTHORIZED)


def require_ingest_token(settings: SettingsDep, credentials: Credentials) -> None:
    """The ingest token only; the read-only token is known but not allowed to write (403, not 401)."""
    presented = _presented(credentials)
    if presented is None:
        raise _unauthorized()
    if token_matches(presented, settings.api_token.get_secret_value()):
        return
    if token_matches(presented, settings.api_read_token.get_secret_value()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the read-only token cannot ingest; use RADAR_API_TOKEN")
    raise _unauthorized()


def require_read_token(settings: SettingsDep, credentials: Credentials) -> None:
    """Dashboards and queries take the read-only token; the ingest token may read too."""
    presented = _presented(credentials)
    tokens = (settings.api_read_token.get_secret_value(), settings.api_token.get_secret_value())
    # every token is compared (no short cut), so the time taken does not say which one nearly matched
    if presented is None or not sum(token_matches(presented, token) for token in tokens):
        raise _unauthorized()
