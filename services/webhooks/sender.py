"""One webhook POST, bounded: through the guarded client, within one deadline for the whole exchange (lookup,
connect, TLS, upload, headers, body), reading at most ``max_body`` bytes of the answer. Never raises for what the
target does: every failure comes back as a :class:`Reply` the dispatcher can record.

httpx's ``timeout`` is per phase (a receiver that sends a byte every few seconds never trips a read timeout), and
``response.text`` reads the whole body into memory; a hostile receiver could hold a delivery slot, and the lease,
for as long as it liked, or fill the dispatcher's memory. Both are bounded here.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

import httpx

from core.errors import DeliveryError
from core.webhook_signing import InvalidSecret, signature_headers
from services.webhooks.policy import url_problem
from services.webhooks.transport import Resolver, TargetRefused, guarded_client, system_resolve

__all__ = ["MAX_BODY_BYTES", "Reply", "Sender", "Undeliverable", "signed_headers"]

MAX_BODY_BYTES = 64 * 1024


class Undeliverable(DeliveryError):
    """Nothing can be sent for this subscription as it stands (an invalid URL or signing secret): a dead letter,
    with the reason, and no request made."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def signed_headers(url: str, secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` to ``url``, or :class:`Undeliverable` when the URL or the secret
    is unusable (checked here, before anything is sent, for the dispatcher and ``webhooks test`` alike)."""
    if why := url_problem(url):
        raise Undeliverable(why)
    try:
        return signature_headers(secret, msg_id, timestamp, body)
    except InvalidSecret as exc:
        raise Undeliverable(str(exc)) from None


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no HTTP answer (refused, lookup failed, timeout, connection error)
    detail: str  # the start of the answer's body, or what went wrong
    permanent: bool = False  # a failure that trying again cannot mend (a refused target, a name that does not exist)
    body_bytes: int = 0  # bytes of the answer's body read (at most max_body)
    truncated: bool = False  # the body was longer than max_body and was cut
    elapsed_s: float = 0.0


class Sender:
    """Two guarded clients: one for subscriptions held to global addresses, one for those allowed private ones."""

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        max_body: int = MAX_BODY_BYTES,
        max_connections: int = 100,
        resolve: Resolver = system_resolve,
    ) -> None:
        self.timeout_s, self.max_body = timeout_s, max_body
        self.clients = {
            allow: guarded_client(
                allow_private=allow, timeout_s=timeout_s, max_connections=max_connections, resolve=resolve
            )
            for allow in (False, True)
        }

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, timeout_s: float | None = None
    ) -> Reply:
        """POST and read the answer within one deadline. The body is read up to ``max_body`` (all of a short one,
        so the connection can be reused); once the status has arrived, the deadline only cuts the body short."""
        deadline = self.timeout_s if timeout_s is None else timeout_s
        started, answer = time.monotonic(), _Answer()
        try:
            async with asyncio.timeout(deadline):
                await self._exchange(url, body, headers, allow_private=allow_private, answer=answer)
        except TimeoutError:
            if answer.status is None:
                return Reply(None, f"timeout: no answer within {deadline:g} s", elapsed_s=_since(started))
            answer.detail_suffix = f" (body cut at the {deadline:g} s deadline)"
        except TargetRefused as exc:
            return Reply(None, exc.reason, permanent=exc.permanent, elapsed_s=_since(started))
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return Reply(None, f"invalid URL: {exc}", permanent=True, elapsed_s=_since(started))
        except Exception as exc:  # noqa: BLE001 - whatever one target provokes stays that target's failure
            if answer.status is None:
                return Reply(None, f"{type(exc).__name__}: {exc}"[:300], elapsed_s=_since(started))
            answer.detail_suffix = f" (body cut: {type(exc).__name__})"
        return answer.reply(_since(started))

    async def _exchange(
        self, url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, answer: _Answer
    ) -> None:
        client = self.clients[allow_private]
        # identity: a compressed answer would let a few bytes on the wire inflate past the cap
        headers = {**headers, "accept-encoding": "identity"}
        async with client.stream("POST", url, content=body, headers=headers) as response:
            answer.status = response.status_code
            async for chunk in response.aiter_raw():
                take = chunk[: self.max_body - answer.size]
                answer.chunks.append(take)
                answer.size += len(take)
                if answer.size >= self.max_body:
                    answer.truncated = True  # leaving the block closes the connection: the rest is never read
                    return


@dataclass
class _Answer:
    """What has arrived so far: kept when the deadline falls in the middle of the body."""

    status: int | None = None
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    truncated: bool = False
    detail_suffix: str = ""

    def reply(self, elapsed_s: float) -> Reply:
        text = printable(b"".join(self.chunks)[:300].decode("utf-8", "replace")) + self.detail_suffix
        return Reply(self.status, text, body_bytes=self.size, truncated=self.truncated, elapsed_s=elapsed_s)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def printable(text: str) -> str:
    r"""A receiver's reply as ``last_error`` can keep it: control characters escaped (PostgreSQL refuses NUL in
    text, and a terminal should not run a receiver's escape codes).

    >>> printable("bad\x00gateway\x1b[31m\n")
    'bad\\x00gateway\\x1b[31m\n'
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _since(started: float) -> float:
    return time.monotonic() - started
