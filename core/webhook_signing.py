"""Standard Webhooks signatures: ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.

Secrets have the form ``whsec_<base64 key>``; receivers verify with the same key (any Standard Webhooks library
works). :func:`verify` is what our tests and the sample receiver use.

A malformed secret must fail where it is typed (``webhooks add`` checks :func:`secret_problem`) and, for rows that
predate that check, fail only its own deliveries: :func:`sign` raises :class:`InvalidSecret`, which the dispatcher
records as the delivery's reason instead of letting a ``binascii.Error`` end the round.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

from core.errors import ConfigError

__all__ = [
    "MAX_KEY_BYTES",
    "MIN_KEY_BYTES",
    "InvalidSecret",
    "new_secret",
    "secret_key",
    "secret_problem",
    "sign",
    "signature_headers",
    "verify",
]

PREFIX = "whsec_"
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64  # the Standard Webhooks recommendation: 192 to 512 bits


class InvalidSecret(ConfigError, ValueError):
    """The secret is not ``whsec_`` + base64 of a key; the message says what is wrong, never the secret."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key behind a secret. Lenient about the prefix and the length (subscriptions added before
    :func:`secret_problem` existed keep working), strict about the base64: a key we cannot decode signs nothing.

    >>> len(secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
    24
    >>> secret_key("whsec_abc")
    Traceback (most recent call last):
    ...
    core.webhook_signing.InvalidSecret: invalid signing secret: not base64 (Incorrect padding)
    """
    try:
        key = base64.b64decode(secret.removeprefix(PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSecret(f"invalid signing secret: not base64 ({exc})") from None
    if not key:
        raise InvalidSecret("invalid signing secret: empty key")
    return key


def secret_problem(secret: str) -> str | None:
    """Why ``webhooks add`` refuses a secret (None when it is a Standard Webhooks secret): the ``whsec_`` prefix,
    valid base64, and a key of 24 to 64 bytes.

    >>> secret_problem(new_secret()) is None, secret_problem("whsec_abc"), secret_problem("whsec_" + "QUFB" * 4)
    (True, 'invalid signing secret: not base64 (Incorrect padding)', 'invalid signing secret: the key is 12 bytes, not 24 to 64')
    """  # noqa: E501
    if not secret.startswith(PREFIX):
        return f"invalid signing secret: it does not start with {PREFIX}"
    try:
        key = secret_key(secret)
    except InvalidSecret as exc:
        return str(exc)
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        return f"invalid signing secret: the key is {len(key)} bytes, not {MIN_KEY_BYTES} to {MAX_KEY_BYTES}"
    return None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The signature header value; this is the Standard Webhooks specification's own test vector:

    >>> sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
    ...      b'{"test": 2432232314}')
    'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
    """
    mac = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signature_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "content-type": "application/json",
    }


def verify(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    now: int | None = None,
    tolerance_s: int = 300,
    check_time: bool = True,
) -> bool:
    """True when one of the ``v1`` signatures matches and the timestamp is within ``tolerance_s`` of ``now`` (the
    current time when not given: a replayed old delivery must not verify). ``check_time=False`` is for checking
    deliveries recorded earlier (a test's receiver), never for a live receiver."""
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp.isdigit():
        return False
    at = int(time.time()) if now is None else now
    if check_time and abs(at - int(timestamp)) > tolerance_s:
        return False
    expected = sign(secret, msg_id, int(timestamp), body)
    return any(hmac.compare_digest(expected, candidate) for candidate in headers.get("webhook-signature", "").split())
