"""Where a webhook may go, on literal addresses and on names through a stand-in resolver (no external network):
schemes, global addresses only, a failed lookup is a failure, one lookup per connection (no rebinding window),
and the signing-secret rules of ``webhooks add``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpcore
import pytest

from core.webhook_signing import InvalidSecret, new_secret, secret_key, secret_problem, signature_headers
from services.webhooks.policy import address_problem, first_problem, url_problem
from services.webhooks.transport import GuardedBackend, LookupFailed, TargetRefused

REFUSED = {
    "127.0.0.1": "loopback",
    "127.8.9.10": "loopback",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.254": "carrier-grade NAT",
    "169.254.169.254": "link-local",
    "0.0.0.0": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.1": "private",  # documentation ranges are not global either
    "198.18.0.1": "private",
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fe80::1%eth0": "link-local",
    "fc00::1": "private",
    "ff02::1": "multicast",
    "2001:db8::1": "private",
    "::ffff:127.0.0.1": "embeds 127.0.0.1",
    "::ffff:100.64.0.1": "embeds 100.64.0.1",
    "64:ff9b::a9fe:a9fe": "embeds 169.254.169.254",  # NAT64 of the metadata address
    "2002:0a00:0001::": "embeds 10.0.0.1",  # 6to4
    "192.0.0.192": "special-purpose",  # IETF protocol assignments; Python 3.11.7's tables call it global
    "192.31.196.1": "special-purpose",  # AS112
    "2001:2::1": "a private",  # benchmarking, inside 2001::/23 (the interpreter knows this one)
}
ALLOWED = ["93.184.215.14", "8.8.8.8", "1.1.1.1", "100.128.0.1", "2606:4700::1111", "2001:4860:4860::8888"]


@pytest.mark.parametrize(("address", "label"), REFUSED.items())
def test_non_global_addresses_are_refused(address: str, label: str) -> None:
    why = address_problem(address)
    assert why is not None and label in why, why


@pytest.mark.parametrize("address", ALLOWED)
def test_global_addresses_pass(address: str) -> None:
    assert address_problem(address) is None


def test_one_bad_address_refuses_the_name() -> None:
    assert first_problem(["93.184.215.14", "10.0.0.7"]) == "10.0.0.7 is a private address"
    assert first_problem(["93.184.215.14", "2606:4700::1111"]) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example.com/radar", None),
        ("http://hooks.example.com:8080/x?y=1", None),
        ("HTTPS://hooks.example.com/", None),
        ("http://[2606:4700::1111]/x", None),
        ("ftp://hooks.example.com/x", "scheme 'ftp'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher'"),
        ("hooks.example.com/x", "scheme ''"),
        ("http:///x", "no host"),
        ("http://hooks.example.com:99999/", "invalid URL"),
        ("http://a..b.example/", "not a valid host name"),
        ("http://" + "x" * 70 + ".example/", "not a valid host name"),
    ],
)
def test_url_rules(url: str, problem: str | None) -> None:
    why = url_problem(url)
    assert (why is None) if problem is None else (why is not None and problem in why), why


def test_secret_rules() -> None:
    assert secret_problem(new_secret()) is None
    assert "base64" in (secret_problem("whsec_abc") or "")
    assert "12 bytes" in (secret_problem("whsec_" + "QUFB" * 4) or "")
    assert "whsec_" in (secret_problem("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") or "")
    assert "bytes" in (secret_problem("whsec_" + "QUFB" * 30) or "")  # 90 bytes: over 64
    with pytest.raises(InvalidSecret, match="invalid signing secret"):
        signature_headers("whsec_abc", "msg_1", 1, b"{}")
    with pytest.raises(InvalidSecret, match="empty key"):
        secret_key("whsec_")


class FakeResolver:
    """Answers from a script, one answer per call, and counts the calls."""

    def __init__(self, *answers: list[str] | Exception) -> None:
        self.answers, self.calls = list(answers), 0

    async def __call__(self, host: str, port: int) -> list[str]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


class RecordingInner:
    """Stands in for the socket layer: notes where it was asked to connect, connects nowhere."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, *args: Any) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        raise httpcore.ConnectError("not really connecting")


def _backend(resolver: FakeResolver, *, allow_private: bool = False) -> tuple[GuardedBackend, RecordingInner]:
    backend = GuardedBackend(allow_private=allow_private, resolve=resolver)
    inner = RecordingInner()
    backend.inner = inner  # type: ignore[assignment]
    return backend, inner


def test_a_name_with_a_private_record_is_refused_before_any_connection() -> None:
    backend, inner = _backend(FakeResolver(["93.184.215.14", "169.254.169.254"]))
    with pytest.raises(TargetRefused, match=r"169\.254\.169\.254 is a link-local address \(resolved from hooks"):
        asyncio.run(backend.connect_tcp("hooks.example.com", 443, timeout=1))
    assert inner.connects == []


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    """DNS rebinding: the first answer is public, any later one private. One lookup serves check and connect."""
    resolver = FakeResolver(["93.184.215.14"], ["127.0.0.1"])
    backend, inner = _backend(resolver)
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(backend.connect_tcp("rebind.example.com", 80, timeout=1))
    assert resolver.calls == 1 and inner.connects == [("93.184.215.14", 80)]


def test_every_checked_address_is_tried_in_order() -> None:
    backend, inner = _backend(FakeResolver(["93.184.215.14", "2606:4700::1111"]))
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(backend.connect_tcp("hooks.example.com", 443, timeout=1))
    assert inner.connects == [("93.184.215.14", 443), ("2606:4700::1111", 443)]


def test_a_failed_lookup_is_a_failure_not_a_pass() -> None:
    for allow_private in (False, True):
        backend, inner = _backend(
            FakeResolver(LookupFailed("DNS lookup failed: nx.example: unknown")), allow_private=allow_private
        )
        with pytest.raises(LookupFailed, match="DNS lookup failed") as caught:
            asyncio.run(backend.connect_tcp("nx.example", 443, timeout=1))
        assert caught.value.permanent and inner.connects == []


def test_a_slow_resolver_times_out_as_a_temporary_failure() -> None:
    async def slow(host: str, port: int) -> list[str]:
        await asyncio.sleep(5)
        return ["93.184.215.14"]

    backend = GuardedBackend(resolve=slow)
    with pytest.raises(LookupFailed, match="no answer") as caught:
        asyncio.run(backend.connect_tcp("slow.example", 443, timeout=0.1))
    assert not caught.value.permanent


def test_literal_addresses_are_not_resolved() -> None:
    resolver = FakeResolver(["93.184.215.14"])
    backend, inner = _backend(resolver)
    with pytest.raises(TargetRefused, match=r"100\.64\.0\.1 is a shared"):
        asyncio.run(backend.connect_tcp("100.64.0.1", 80, timeout=1))
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(backend.connect_tcp("8.8.8.8", 80, timeout=1))
    assert resolver.calls == 0 and inner.connects == [("8.8.8.8", 80)]


def test_allow_private_lifts_only_the_address_rule() -> None:
    backend, inner = _backend(FakeResolver(["127.0.0.1"]), allow_private=True)
    with pytest.raises(httpcore.ConnectError):
        asyncio.run(backend.connect_tcp("localhost", 9, timeout=1))
    assert inner.connects == [("127.0.0.1", 9)]
    with pytest.raises(TargetRefused, match="unix sockets"):
        asyncio.run(backend.connect_unix_socket("/var/run/docker.sock"))


def test_the_real_resolver_refuses_localhost_and_unknown_names() -> None:
    """The system resolver, on names that need no network: localhost and the reserved .invalid TLD."""
    backend = GuardedBackend()
    with pytest.raises(TargetRefused, match=r"loopback address \(resolved from localhost\)"):
        asyncio.run(backend.connect_tcp("localhost", 9, timeout=2))
    with pytest.raises(LookupFailed, match=r"DNS lookup failed: no-such-host\.invalid"):
        asyncio.run(backend.connect_tcp("no-such-host.invalid", 80, timeout=2))
    with pytest.raises(LookupFailed, match="DNS lookup failed"):
        asyncio.run(backend.connect_tcp("a..b.example", 80, timeout=2))
