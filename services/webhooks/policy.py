"""What a delivery attempt's outcome means, and where webhooks may go. Pure functions."""

from __future__ import annotations

import ipaddress
import random
import socket
from urllib.parse import urlsplit

__all__ = ["Outcome", "backoff_s", "classify", "private_target"]

Outcome = str  # "delivered" | "retry" | "disable" | "dead"


def classify(status: int | None) -> Outcome:
    """The Standard Webhooks reading of a response (None: timeout or connection error).

    >>> [classify(s) for s in (200, 204, 410, 429, 500, 503, None, 400, 404)]
    ['delivered', 'delivered', 'disable', 'retry', 'retry', 'retry', 'retry', 'dead', 'dead']
    """
    if status is None or status == 429 or status >= 500:
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    if status == 410:
        return "disable"
    return "dead"


def backoff_s(attempt: int, *, base_s: float = 5.0, cap_s: float = 3600.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: about 5 s, 10 s, 20 s ... capped at an hour.

    >>> all(2.5 <= backoff_s(0, rng=random.Random(i)) <= 5.0 for i in range(50))
    True
    """
    ceiling = min(cap_s, base_s * 2**attempt)
    return (rng or random).uniform(ceiling / 2, ceiling)


def private_target(url: str) -> str | None:
    """Why a URL points at a private, loopback or link-local address (None when it does not).

    >>> private_target("http://127.0.0.1:9000/hook"), private_target("http://10.1.2.3/x") is not None
    ('127.0.0.1 is a loopback address', True)
    """
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return None  # unresolvable now: the delivery itself will fail and retry
    for raw in addresses:
        address = ipaddress.ip_address(str(raw).split("%")[0])
        for label, flag in (("loopback", address.is_loopback), ("private", address.is_private),
                            ("link-local", address.is_link_local), ("reserved", address.is_reserved)):  # fmt: skip
            if flag:
                return f"{raw} is a {label} address"
    return None
