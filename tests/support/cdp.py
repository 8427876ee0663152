"""Headless Chromium driven over the Chrome DevTools Protocol (Debian's /usr/bin/chromium; no browser download):
open a page, evaluate JavaScript in it, wait for a condition, answer its prompts. The websocket is aiohttp's (a
dependency already), so the tests need no browser-automation package."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["HEADLESS", "Page", "chromium_page"]

HEADLESS = [  # how every test runs Chromium, whether over the DevTools Protocol or with --dump-dom
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,900",
]
FLAGS = [*HEADLESS, "--remote-debugging-port=0"]


class Page:
    """One page target. ``prompt_answer``: what a ``window.prompt`` is answered with (None: dismissed)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.prompt_answer: str | None = None
        self.prompts: list[str] = []

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call ``method``; events that arrive meanwhile are handled (dialogs answered) or dropped."""
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params or {}})
        while True:
            message = json.loads((await self.ws.receive(timeout=30)).data)
            if message.get("method") == "Page.javascriptDialogOpening":
                self.prompts.append(message["params"]["message"])
                answer = {"accept": self.prompt_answer is not None, "promptText": self.prompt_answer or ""}
                await self.ws.send_json(
                    {"id": next(self.ids), "method": "Page.handleJavaScriptDialog", "params": answer}
                )
            elif message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited)."""
        reply = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 20.0) -> Any:
        """Poll until ``expression`` is truthy; returns its value."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"not true within {timeout_s} s: {expression}")

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})


def _port(profile: Path, proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        if active.exists() and active.read_text().strip():
            return int(active.read_text().split()[0])
        time.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port")


@asynccontextmanager
async def chromium_page(profile: Path) -> AsyncIterator[Page]:
    """A headless Chromium with a fresh profile in ``profile``, and its first page (about:blank)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed for the dashboard tests (make test installs it)"
    proc = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _port(profile, proc)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as reply:
                targets = await reply.json()
            page = next(t for t in targets if t["type"] == "page")
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                tab = Page(ws)
                await tab.send("Page.enable")
                await tab.send("Runtime.enable")
                yield tab
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
