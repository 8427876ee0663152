"""The one backoff and the one retry-for-ever loop every stage uses.

Why one: the stages hold their batch while a dependency (Triton, Kafka, Redis) is away and pull nothing new
until it is back (backpressure, not loss). Each used to spell that loop out, with its own backoff; a change to
how we wait (jitter, a cap, a log line every n attempts) had to be made four times and was not. Here the wait is
a pure function of the attempt and an injected random source, and the loop takes its sleep as a parameter, so
both are tested without a clock.

The loop has no attempt limit on purpose: it ends when the operation succeeds, when it raises something that is
not retryable (a contract error: fail loudly), or when its task is cancelled (a worker stopping; the caller
holds its batch back).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

__all__ = ["Backoff", "RandomSource", "retry_forever"]

T = TypeVar("T")


class RandomSource(Protocol):
    """What the backoff draws its jitter from: ``random.Random``, the ``random`` module, or a test's fake."""

    def uniform(self, a: float, b: float) -> float: ...


@dataclass
class Backoff:
    """Exponential backoff with jitter, capped: attempt ``n`` waits between ``(1 - jitter) * c`` and ``c``, where
    ``c = min(cap_s, base_s * 2**n)``.

    ``jitter=1`` is full jitter (anything from 0 to ``c``: the spread that best de-synchronises many workers
    retrying the same service); ``jitter=0.5`` keeps at least half of ``c``, for retries whose wait should grow
    visibly (webhook deliveries: about 5 s, 10 s, 20 s ...).

    >>> b = Backoff(base_s=0.1, cap_s=1.0, rng=random.Random(0))
    >>> all(0 <= b.delay(n) <= min(1.0, 0.1 * 2**n) for n in range(12) for _ in range(100))
    True
    >>> half = Backoff(base_s=5.0, cap_s=3600.0, jitter=0.5, rng=random.Random(0))
    >>> all(2.5 <= half.delay(0) <= 5.0 for _ in range(50)), 1800.0 <= half.delay(30) <= 3600.0
    (True, True)
    """

    base_s: float = 0.05
    cap_s: float = 5.0
    jitter: float = 1.0
    rng: RandomSource = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt ``attempt`` (0-based)."""
        # past 2**64 the product only overflows; the cap has long won by then
        return min(self.cap_s, self.base_s * 2 ** min(attempt, 64))

    def delay(self, attempt: int) -> float:
        """How long to wait after failed attempt ``attempt`` (0-based)."""
        ceiling = self.ceiling(attempt)
        return self.rng.uniform(ceiling * (1.0 - self.jitter), ceiling)


async def retry_forever(
    op: Callable[[], Awaitable[T]],
    *,
    backoff: Backoff,
    is_retryable: Callable[[BaseException], bool],
    on_retry: Callable[[int, BaseException], None] | None = None,
    min_wait: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """``await op()`` until it returns; after each retryable failure, report it and wait.

    ``on_retry(attempt, exc)`` sees every retryable failure (``attempt`` counts from 0) before the wait: log it,
    count it. ``min_wait()`` is a floor on the wait, e.g. the time until a circuit breaker lets a trial through.
    Anything ``is_retryable`` refuses, and cancellation, propagates at once.

    >>> calls, waits = [], []
    >>> async def flaky() -> str:
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionError("away")
    ...     return "ok"
    >>> async def no_sleep(s: float) -> None:
    ...     waits.append(s)
    >>> asyncio.run(retry_forever(flaky, backoff=Backoff(base_s=1, cap_s=1, jitter=0),
    ...                           is_retryable=lambda e: isinstance(e, ConnectionError), sleep=no_sleep))
    'ok'
    >>> len(calls), waits
    (3, [1.0, 1.0])
    """
    attempt = 0
    while True:
        try:
            return await op()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            if not is_retryable(exc):
                raise
            if on_retry is not None:
                on_retry(attempt, exc)
            wait = backoff.delay(attempt)
            if min_wait is not None:
                wait = max(min_wait(), wait)
            attempt += 1
        await sleep(wait)
