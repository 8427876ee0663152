"""A small webhook receiver on a loopback port: verifies Standard Webhooks signatures and keeps what arrived.

The demo subscribes one to show deliveries end to end; the tests give it a plan of failures (500, 429,
timeouts, 410, 400) to prove the dispatcher survives them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.serve import free_port, serve_in_thread
from services.webhooks.signing import verify

__all__ = ["Receiver", "free_port", "running_receiver"]


@dataclass
class Receiver:
    plan: Callable[[int], str] = lambda _: "ok"  # request number -> "ok" | "500" | "429" | "410" | "400" | "timeout"
    secret: str | None = None  # when set, each request's signature is checked and the result recorded
    received: list[tuple[dict[str, str], bytes, str]] = field(default_factory=list)  # headers, body, answer
    verified: list[bool] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_delivery: Callable[[dict[str, str], bytes], None] | None = None

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self.lock:
            answer = self.plan(len(self.received))
            self.received.append((headers, body, answer))
            if self.secret is not None:
                self.verified.append(verify(self.secret, headers, body, now=int(time.time())))
        if answer == "timeout":
            await asyncio.sleep(3)
            return Response("late", status_code=200)
        if answer == "ok" and self.on_delivery:
            self.on_delivery(headers, body)
        return Response(answer, status_code=200 if answer == "ok" else int(answer))

    def delivered(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b, answer in self.received if answer == "ok"]


@contextmanager
def running_receiver(receiver: Receiver, port: int | None = None) -> Iterator[str]:
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    with serve_in_thread(app, port=port, lifespan="off") as base:
        yield f"{base}/hook"
