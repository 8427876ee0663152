"""Bodies are bounded and writes authenticated before a byte of the body is read (pure ASGI, every route).

FastAPI reads and parses a route's body before it runs the route's dependencies, so the token check of
``POST /v1/watchlist`` or ``POST /v1/alerts/{id}/ack`` came after a 64 MiB body had been read in full and parsed
(hundreds of MiB of memory for a 401). Here a request that carries a body is refused first when it holds no token
the API knows (401; the read-only token is let through for its route to answer 403), then by its declared
Content-Length, then by the bytes it actually streams (413 as soon as the limit is passed): ingest has
``RADAR_INGEST_MAX_BODY_BYTES``, every other route ``RADAR_API_MAX_BODY_BYTES``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from core.settings import Settings
from services.api.deps import token_matches

__all__ = ["BodyGuard"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_READING = {"GET", "HEAD", "OPTIONS"}
INGEST_PATH = "/v1/events"


async def _answer(send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app, self.settings = app, settings

    def _limit(self, path: str) -> tuple[int, str]:
        if path == INGEST_PATH or path.startswith(INGEST_PATH + "/"):
            return self.settings.ingest_max_body_bytes, "RADAR_INGEST_MAX_BODY_BYTES"
        return self.settings.api_max_body_bytes, "RADAR_API_MAX_BODY_BYTES"

    def _known_token(self, headers: dict[bytes, bytes]) -> bool:
        raw = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, presented = raw.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return False
        tokens = (self.settings.api_token.get_secret_value(), self.settings.api_read_token.get_secret_value())
        return sum(token_matches(presented.strip(), token) for token in tokens) > 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READING:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if not self._known_token(headers):
            await _answer(send, 401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")])
            return
        limit, setting = self._limit(scope["path"])
        too_large = f"body over {limit} bytes ({setting}); split it"
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, too_large)
            return
        seen = 0
        started = answered = False

        async def counted() -> Message:
            # past the limit: answer 413 here and tell the app the client left (an exception raised into the
            # app would be turned into a 400 by FastAPI's body parsing)
            nonlocal seen, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit and not started:
                    answered = True
                    await _answer(send, 413, too_large)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if answered:
                return  # the app's own answer after the disconnect goes nowhere
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)
