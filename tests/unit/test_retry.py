"""The one backoff and the one retry-for-ever loop (core.retry): deterministic, with an injected random source and
sleep. The webhook dispatcher's ``backoff_s`` and the stages' waits must draw exactly what they drew before."""

from __future__ import annotations

import asyncio
import random

import pytest

from core.retry import Backoff, retry_forever
from inference.resilience import Backoff as ResilienceBackoff
from services.webhooks.policy import backoff_s


class Edge:
    """A random source that always draws the low or the high end of the range."""

    def __init__(self, high: bool) -> None:
        self.high = high
        self.draws: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.draws.append((a, b))
        return b if self.high else a


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Flaky:
    """Fails ``times`` times with ``error``, then returns "ok"."""

    def __init__(self, times: int, error: BaseException) -> None:
        self.times, self.error, self.calls = times, error, 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return "ok"


def test_the_ceiling_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base_s=0.2, cap_s=5.0, rng=Edge(high=True))
    assert [backoff.delay(n) for n in range(7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


def test_full_jitter_can_wait_nothing_and_half_jitter_keeps_half() -> None:
    assert Backoff(base_s=1.0, cap_s=8.0, rng=Edge(high=False)).delay(2) == 0.0
    assert Backoff(base_s=1.0, cap_s=8.0, jitter=0.5, rng=Edge(high=False)).delay(2) == 2.0


def test_a_long_outage_does_not_overflow_the_ceiling() -> None:
    assert Backoff(base_s=0.2, cap_s=5.0, rng=Edge(high=True)).delay(5000) == 5.0


def test_jitter_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter"):
        Backoff(jitter=1.5)


@pytest.mark.parametrize("seed", range(5))
def test_the_stages_draw_what_the_old_full_jitter_backoff_drew(seed: int) -> None:
    old, new = random.Random(seed), Backoff(base_s=0.2, cap_s=5.0, rng=random.Random(seed))
    assert [new.delay(n) for n in range(12)] == [old.uniform(0, min(5.0, 0.2 * 2**n)) for n in range(12)]


@pytest.mark.parametrize("seed", range(5))
def test_webhook_backoff_draws_what_it_drew_before(seed: int) -> None:
    old, rng = random.Random(seed), random.Random(seed)
    expected = [old.uniform(min(3600.0, 5.0 * 2**n) / 2, min(3600.0, 5.0 * 2**n)) for n in range(14)]
    assert [backoff_s(n, rng=rng) for n in range(14)] == expected
    assert 2.5 <= backoff_s(0) <= 5.0  # the shared module-level random source when none is given


def test_the_triton_client_backoff_is_the_core_one() -> None:
    assert ResilienceBackoff is Backoff


async def test_retries_until_the_operation_succeeds_waiting_the_backoff() -> None:
    op, sleeps, seen = Flaky(3, ConnectionError("away")), Sleeps(), []
    result = await retry_forever(
        op,
        backoff=Backoff(base_s=1.0, cap_s=3.0, rng=Edge(high=True)),
        is_retryable=lambda exc: isinstance(exc, ConnectionError),
        on_retry=lambda attempt, exc: seen.append((attempt, str(exc))),
        sleep=sleeps,
    )
    assert (result, op.calls) == ("ok", 4)
    assert sleeps.waits == [1.0, 2.0, 3.0]
    assert seen == [(0, "away"), (1, "away"), (2, "away")]


async def test_min_wait_is_a_floor_on_the_wait() -> None:
    sleeps = Sleeps()
    await retry_forever(
        Flaky(2, ConnectionError()),
        backoff=Backoff(base_s=1.0, cap_s=1.0, rng=Edge(high=True)),
        is_retryable=lambda exc: True,
        min_wait=iter([4.0, 0.5]).__next__,
        sleep=sleeps,
    )
    assert sleeps.waits == [4.0, 1.0]


async def test_an_error_that_is_not_retryable_propagates_at_once() -> None:
    op, sleeps = Flaky(1, ValueError("contract")), Sleeps()
    with pytest.raises(ValueError, match="contract"):
        await retry_forever(
            op, backoff=Backoff(), is_retryable=lambda exc: isinstance(exc, ConnectionError), sleep=sleeps
        )
    assert (op.calls, sleeps.waits) == (1, [])


async def test_cancellation_is_never_retried() -> None:
    op, sleeps = Flaky(1, asyncio.CancelledError()), Sleeps()
    with pytest.raises(asyncio.CancelledError):
        await retry_forever(op, backoff=Backoff(), is_retryable=lambda exc: True, sleep=sleeps)
    assert (op.calls, sleeps.waits) == (1, [])


async def test_a_task_cancelled_while_it_waits_stops() -> None:
    started = asyncio.Event()

    async def away() -> None:
        started.set()
        raise ConnectionError

    task = asyncio.create_task(
        retry_forever(away, backoff=Backoff(base_s=60, cap_s=60, jitter=0), is_retryable=lambda exc: True)
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
