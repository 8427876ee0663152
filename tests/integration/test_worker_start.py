"""A worker started while the broker is away waits for it instead of exiting (Faust gives up for good when it
cannot bootstrap while it starts): on the real broker, and on an address where none listens."""

from __future__ import annotations

import pytest

from core.settings import Settings
from services.worker import wait_for_kafka


class Stop(Exception):
    pass


def test_a_broker_that_answers_is_waited_for_once(stack: Settings) -> None:
    assert wait_for_kafka(stack) == 1


def test_an_absent_broker_is_waited_for_with_a_growing_pause(stack: Settings) -> None:
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 5:
            raise Stop

    away = stack.model_copy(update={"kafka_bootstrap_servers": "127.0.0.1:1"})
    with pytest.raises(Stop):
        wait_for_kafka(away, sleep=sleep, probe_timeout_ms=200)
    assert pauses == [0.5, 1.0, 2.0, 4.0, 5.0]
