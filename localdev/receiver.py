"""A small webhook receiver on a loopback port: verifies Standard Webhooks signatures and keeps what arrived.

The demo subscribes one to show deliveries end to end; the tests give it a plan of failures (500, 429,
timeouts, 410, 400) to prove the dispatcher survives them, and hostile answers: "hang" (no answer until the client
gives up), "huge" (an endless 200 body, ``streamed`` counts what left), and ``delay_s`` before every answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from core.webhook_signing import verify
from localdev.serve import free_port, serve_in_thread

__all__ = ["Receiver", "free_port", "running_receiver"]


@dataclass
class Receiver:
    plan: Callable[[int], str] = lambda _: "ok"  # request number -> ok | 500 | 429 | 410 | 400 | timeout | hang
    #                                           | huge[STATUS] | trickle[STATUS]
    secret: str | None = None  # when set, each request's signature is checked and the result recorded
    received: list[tuple[dict[str, str], bytes, str]] = field(default_factory=list)  # headers, body, answer
    verified: list[bool] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_delivery: Callable[[dict[str, str], bytes], None] | None = None
    delay_s: float = 0.0  # before every answer (a slow receiver), cut short when the client leaves
    huge_limit: int = 256 * 1024 * 1024  # "huge" stops here if nobody hangs up first
    streamed: int = 0  # bytes of "huge" bodies handed to the server

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.lock:
            answer = self.plan(len(self.received))
            self.received.append((headers, body, answer))
            if self.secret is not None:
                self.verified.append(verify(self.secret, headers, body, now=int(time.time())))
        if self.delay_s and not await _wait_unless_gone(request, self.delay_s):
            return Response("late", status_code=200)
        if answer == "timeout":
            await asyncio.sleep(3)
            return Response("late", status_code=200)
        if answer == "hang":
            await _wait_unless_gone(request, 3600)
            return Response("late", status_code=200)
        if answer.startswith(("huge", "trickle")):  # "huge", "huge500", "trickle500": an endless body
            kind = "huge" if answer.startswith("huge") else "trickle"
            stream = self._endless() if kind == "huge" else self._trickle()
            return StreamingResponse(stream, status_code=int(answer[len(kind) :] or 200), media_type="text/plain")
        if answer.startswith("nul"):  # "nul500": a reply whose body holds a NUL byte (PostgreSQL text refuses it)
            return Response(b"upstream\x00failed", status_code=int(answer[3:] or 500))
        if answer == "ok" and self.on_delivery:
            self.on_delivery(headers, body)
        return Response(answer, status_code=200 if answer == "ok" else int(answer))

    async def _endless(self) -> AsyncIterator[bytes]:
        chunk = b"x" * 65536
        while self.streamed < self.huge_limit:
            with self.lock:
                self.streamed += len(chunk)
            yield chunk
            await asyncio.sleep(0)

    async def _trickle(self) -> AsyncIterator[bytes]:
        """A byte every 0.1 s for up to an hour: never idle long enough for a per-read timeout."""
        for _ in range(36000):
            with self.lock:
                self.streamed += 1
            yield b"."
            await asyncio.sleep(0.1)

    def delivered(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b, answer in self.received if answer == "ok"]


async def _wait_unless_gone(request: Request, seconds: float) -> bool:
    """Sleep ``seconds``; False as soon as the client has disconnected (so a hung request ends with its client)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await request.is_disconnected():
            return False
        await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return True


@contextmanager
def running_receiver(receiver: Receiver, port: int | None = None) -> Iterator[str]:
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    with serve_in_thread(app, port=port, lifespan="off") as base:
        yield f"{base}/hook"
