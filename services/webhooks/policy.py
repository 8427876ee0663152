"""What a delivery attempt's outcome means, and where webhooks may go. Pure functions (save the DNS lookup of
:func:`private_target`, which ``webhooks add`` uses to warn early; deliveries check in :mod:`.transport`).

A webhook URL is chosen by whoever can add a subscription, and the dispatcher runs inside our network, so a URL is
a way to make the dispatcher POST to anything it can reach. Hence: only http and https, and only to addresses that
are *global* -- not loopback, private, link-local, carrier-grade NAT (100.64.0.0/10, where some clouds keep their
metadata service), reserved, unspecified or multicast, nor an IPv6 address that embeds such an IPv4 one -- unless the
subscription (or the whole dispatcher) allows private targets.
"""

from __future__ import annotations

import ipaddress
import random
import socket
from collections.abc import Iterable
from enum import StrEnum
from urllib.parse import urlsplit

from core.retry import Backoff, RandomSource

__all__ = [
    "SCHEMES",
    "Outcome",
    "address_problem",
    "backoff_s",
    "classify",
    "first_problem",
    "is_ip_literal",
    "private_target",
    "url_problem",
]


class Outcome(StrEnum):
    """What one attempt at a delivery came to: the receiver's answer read (delivered, retry, disable: 410 Gone,
    dead) or the dispatcher's own ruling (cancel: the subscription is off; lost: the round's lease ran out)."""

    DELIVERED = "delivered"
    RETRY = "retry"
    DISABLE = "disable"
    DEAD = "dead"
    CANCEL = "cancel"
    LOST = "lost"


SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address the gateway reaches
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598 carrier-grade NAT
# IANA's special-purpose registries (RFC 6890 and after), written out: the interpreter's ipaddress tables lag them
# (Python 3.11.7 calls 192.0.0.192, in the IETF protocol block 192.0.0.0/24, global)
SPECIAL_PURPOSE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.31.196.0/24",
        "192.52.193.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "192.175.48.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


def classify(status: int | None) -> Outcome:
    """The Standard Webhooks reading of a response (None: timeout or connection error).

    >>> [str(classify(s)) for s in (200, 204, 410, 429, 500, 503, None, 400, 404)]
    ['delivered', 'delivered', 'disable', 'retry', 'retry', 'retry', 'retry', 'dead', 'dead']
    """
    if status is None or status == 429 or status >= 500:
        return Outcome.RETRY
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status == 410:
        return Outcome.DISABLE
    return Outcome.DEAD


def backoff_s(attempt: int, *, base_s: float = 5.0, cap_s: float = 3600.0, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: about 5 s, 10 s, 20 s ... capped at an hour. The project's one backoff
    (:class:`core.retry.Backoff`), keeping at least half of each step so a receiver's outage is waited out in
    visibly growing steps.

    >>> all(2.5 <= backoff_s(0, rng=random.Random(i)) <= 5.0 for i in range(50))
    True
    """
    source: RandomSource = rng if rng is not None else random
    return Backoff(base_s=base_s, cap_s=cap_s, jitter=0.5, rng=source).delay(attempt)


def url_problem(url: str) -> str | None:
    """Why a URL cannot be a webhook target at all (None when it can): a scheme other than http(s), no host, a
    bad port, a host name that is not a valid DNS name. Checked when a subscription is added and before each POST.

    >>> [url_problem(u) for u in ("https://hooks.example.com/x", "http://[::1]:8080/", "http://10.0.0.1")]
    [None, None, None]
    >>> url_problem("file:///etc/passwd"), url_problem("http:///x"), url_problem("http://a..b/")
    ("invalid URL: scheme 'file' is not http or https", 'invalid URL: no host', "invalid URL: 'a..b' is not a valid host name")
    """  # noqa: E501
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises for a port that is not a number in range
    except ValueError as exc:
        return f"invalid URL: {exc}"
    if parts.scheme.lower() not in SCHEMES:
        return f"invalid URL: scheme {parts.scheme!r} is not http or https"
    host = parts.hostname
    if not host:
        return "invalid URL: no host"
    if _literal(host) is None:
        try:
            host.encode("idna")
        except UnicodeError:
            return f"invalid URL: {host!r} is not a valid host name"
    return None


def address_problem(raw: str) -> str | None:
    """Why a webhook must not connect to this IP address (None when it is a global unicast address).

    >>> [address_problem(a) for a in ("127.0.0.1", "100.64.0.1", "169.254.169.254", "::ffff:10.0.0.1")]  # doctest: +NORMALIZE_WHITESPACE
    ['127.0.0.1 is a loopback address', '100.64.0.1 is a shared (carrier-grade NAT) address',
     '169.254.169.254 is a link-local address', '::ffff:10.0.0.1 embeds 10.0.0.1, a private address']
    >>> address_problem("93.184.215.14") is None, address_problem("2606:4700::1111") is None
    (True, True)
    """  # noqa: E501
    address = _literal(raw)
    if address is None:
        return f"{raw} is not an IP address"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            why = address_problem(str(embedded))
            if why:
                return f"{raw} embeds {embedded}, {why.split(' is ', 1)[1]}"
    for label, flag in (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),  # ipaddress calls 224.0.0.0/4 global: it is not a unicast host
        ("a shared (carrier-grade NAT)", address in _SHARED),
        ("a reserved", address.is_reserved),
        ("a private", address.is_private),
        ("a non-global", not address.is_global),
        (
            "a special-purpose",
            any(address in network for network in SPECIAL_PURPOSE if network.version == address.version),
        ),
    ):
        if flag:
            return f"{raw} is {label} address"
    return None


def first_problem(addresses: Iterable[str]) -> str | None:
    """The first address a webhook must not reach, as :func:`address_problem` words it (None: all are global).
    Every address counts, not just the first: a name with one public and one private record is refused."""
    return next((why for why in map(address_problem, addresses) if why), None)


def private_target(url: str) -> str | None:
    """Why a URL cannot be delivered to without allowing private targets (None when it can): an invalid URL, a
    name that does not resolve, or any resolved address that is not global. ``webhooks add`` warns with it; the
    dispatcher checks again at each connection, on the addresses it then connects to.

    >>> private_target("http://127.0.0.1:9000/hook"), private_target("http://10.1.2.3/x") is not None
    ('127.0.0.1 is a loopback address', True)
    """
    if why := url_problem(url):
        return why
    host = urlsplit(url.strip()).hostname or ""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except (OSError, UnicodeError) as exc:
        return f"DNS lookup failed: {host}: {exc}"
    return first_problem(sorted(addresses)) if addresses else f"DNS lookup failed: {host}: no addresses"


def is_ip_literal(host: str) -> bool:
    """True for "10.0.0.1", "::1", "[::1]" (nothing to resolve); False for a name."""
    return _literal(host) is not None


def _literal(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo client, NAT64), which is where it leads."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
