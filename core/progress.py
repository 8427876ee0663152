"""Progress for long work (training, replay, evaluation): a live bar on a terminal, periodic lines in a log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["ProgressReporter", "progress_reporter"]


class ProgressReporter:
    """Callable ``(phase, done, total, figures)``; one task per phase."""

    def __init__(self, console: Console, progress: Progress | None, every_s: float = 10.0) -> None:
        self.console = console
        self.progress = progress
        self.every_s = every_s
        self._tasks: dict[str, TaskID] = {}
        self._last_line = 0.0

    def __call__(self, phase: str, done: int, total: int, figures: dict[str, float] | None = None) -> None:
        text = "  ".join(f"{k} {v:.4g}" for k, v in (figures or {}).items())
        if self.progress is not None:
            if phase not in self._tasks:
                self._tasks[phase] = self.progress.add_task(phase, total=total, figures="")
            self.progress.update(self._tasks[phase], completed=done, total=total, figures=text)
            return
        now = time.monotonic()
        if done >= total or now - self._last_line >= self.every_s:
            self._last_line = now
            self.console.print(f"{phase}: {done}/{total} {text}", highlight=False)


@contextmanager
def progress_reporter(console: Console) -> Iterator[ProgressReporter]:
    if not console.is_terminal:
        yield ProgressReporter(console, None)
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[figures]}"),
    )
    with Progress(*columns, console=console) as progress:
        yield ProgressReporter(console, progress)
