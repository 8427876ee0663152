"""Standard Webhooks verification: a replayed old delivery does not verify unless a caller checks a recording."""

from __future__ import annotations

import time

from core.webhook_signing import new_secret, signature_headers, verify


def test_a_delivery_verifies_now_and_an_old_one_only_as_a_recording() -> None:
    secret, body = new_secret(), b'{"type": "alert.opened"}'
    fresh = signature_headers(secret, "msg_1", int(time.time()), body)
    old = signature_headers(secret, "msg_2", int(time.time()) - 600, body)
    assert verify(secret, fresh, body)
    assert not verify(secret, old, body)  # before: no `now` given skipped the timestamp check
    assert verify(secret, old, body, check_time=False)
    assert not verify(secret, fresh, body + b" ")
    assert not verify(new_secret(), fresh, body)
