"""SIGTERM and SIGHUP stop a command (or a benchmark) the way Ctrl-C does.

``timeout``, systemd, CI runners and a closed terminal send SIGTERM or SIGHUP, not SIGINT; Python's default for
them ends the process at once, skipping the ``finally`` blocks that stop its children, so ``radar demo`` stopped by
SIGTERM left its workers, dispatcher, API and stack running. Inside :func:`stopping_on_signals` both raise
:class:`KeyboardInterrupt` in the main thread, so one clean-up path serves all three signals. After the first, a
second SIGTERM or SIGHUP is ignored (the clean-up is bounded: children get a grace, then SIGKILL); a second Ctrl-C
still interrupts, for a person who will not wait.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["STOP_SIGNALS", "stopping_on_signals"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt while the block runs (main thread only).

    >>> import os
    >>> with stopping_on_signals():
    ...     try:
    ...         os.kill(os.getpid(), signal.SIGTERM)
    ...     except KeyboardInterrupt as stop:
    ...         print("stopping on", stop)
    stopping on SIGTERM
    """

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)  # the clean-up runs once, bounded
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {each: signal.signal(each, interrupt) for each in STOP_SIGNALS}
    try:
        yield
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
