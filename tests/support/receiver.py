"""A real HTTP webhook receiver on a loopback port that answers by plan: ok, 500, 429, 410, 400 or timeout."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.api_server import free_port


@dataclass
class Receiver:
    plan: Callable[[int], str]  # request number (from 0) -> "ok" | "500" | "429" | "410" | "400" | "timeout"
    received: list[tuple[dict[str, str], bytes, str]] = field(default_factory=list)  # headers, body, answer
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            answer = self.plan(len(self.received))
            self.received.append(({k.lower(): v for k, v in request.headers.items()}, body, answer))
        if answer == "timeout":
            await asyncio.sleep(3)
            return Response("late", status_code=200)
        return Response(answer, status_code=200 if answer == "ok" else int(answer))

    def delivered(self) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b, answer in self.received if answer == "ok"]


@contextmanager
def running_receiver(receiver: Receiver) -> Iterator[str]:
    port = free_port()
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
