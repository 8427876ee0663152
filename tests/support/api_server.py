"""The real API (uvicorn, lifespan on) on a free loopback port, in a thread, for HTTP tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from services.api.app import create_app
from services.serve import serve_in_thread
from services.settings import Settings


@contextmanager
def running_api(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings)) as base:
        yield base
