"""An HTTP client that connects only where the webhook policy allows, to the very addresses it checked.

Checking a URL's addresses and then letting httpx resolve the name again leaves a window in which DNS can answer
differently (rebinding: a public address for the check, 127.0.0.1 for the connection). Here the check happens in the
connection itself: httpcore asks our network backend to open ``host:port``; the backend resolves the name once,
refuses unless every address is allowed, and connects to one of those same addresses. TLS still uses the name (SNI
and certificate check), and connections are pooled per name, as usual.

A lookup that fails is a failure, never a pass; the environment's proxies are ignored (a proxy would resolve and
connect on our behalf, past the check).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from core.errors import DeliveryError
from services.webhooks.policy import first_problem, is_ip_literal

__all__ = ["GuardedBackend", "LookupFailed", "Resolver", "TargetRefused", "guarded_client", "system_resolve"]

Resolver = Callable[[str, int], Awaitable[list[str]]]  # (host, port) -> IP addresses; raises LookupFailed


class TargetRefused(DeliveryError):
    """The connection was not made: the target is not allowed. ``permanent``: trying again will not help."""

    def __init__(self, reason: str, *, permanent: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


class LookupFailed(TargetRefused):
    """The name did not resolve. Permanent for a name that does not exist; temporary when the resolver could not
    answer (EAI_AGAIN, a timeout), which is retried like a connection error."""


async def system_resolve(host: str, port: int) -> list[str]:
    """The system resolver's addresses for ``host`` (getaddrinfo in a thread, as asyncio does)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        temporary = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None))
        raise LookupFailed(f"DNS lookup failed: {host}: {exc.strerror or exc}", permanent=not temporary) from None
    except (UnicodeError, ValueError) as exc:  # "a..b": the idna codec refuses empty or 64+ character labels
        raise LookupFailed(f"DNS lookup failed: {host}: {exc}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise LookupFailed(f"DNS lookup failed: {host}: no addresses")
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend with the webhook policy in ``connect_tcp``.

    ``allow_private`` still resolves once and refuses a failed lookup; it only lifts the global-address rule.
    """

    def __init__(self, *, allow_private: bool = False, resolve: Resolver = system_resolve) -> None:
        self.allow_private, self.resolve = allow_private, resolve
        self.inner = httpcore.AnyIOBackend()

    async def addresses(self, host: str, port: int, timeout: float | None) -> list[str]:
        """The checked addresses to connect to, in the resolver's order."""
        if is_ip_literal(host):  # nothing to resolve
            addresses = [host]
        else:
            try:
                async with asyncio.timeout(timeout):
                    addresses = await self.resolve(host, port)
            except TimeoutError:
                raise LookupFailed(f"DNS lookup failed: {host}: no answer in {timeout} s", permanent=False) from None
        if not self.allow_private and (why := first_problem(addresses)):
            raise TargetRefused(f"refused: {why}" + ("" if why.startswith(host) else f" (resolved from {host})"))
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for address in await self.addresses(host, port, timeout):
            try:
                return await self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc  # the next address of the same, checked, answer
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("refused: webhooks do not connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


def guarded_client(
    *,
    allow_private: bool = False,
    timeout_s: float = 10.0,
    max_connections: int = 100,
    resolve: Resolver = system_resolve,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every connection goes through :class:`GuardedBackend`; no redirects (a 3xx
    to an internal address would be a way round the check), no environment proxies."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    transport = httpx.AsyncHTTPTransport(trust_env=False, limits=limits)
    # httpx builds its httpcore pool without a way to pass a network backend: build the same pool with ours.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(allow_private=allow_private, resolve=resolve),
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout_s, follow_redirects=False, trust_env=False)
