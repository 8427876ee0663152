"""One correct /metrics however many uvicorn processes serve the API.

With ``radar api --workers N`` each request lands in one of N processes; a plain registry would show a scrape only
that process's counters. The CLI then gives every process one PROMETHEUS_MULTIPROC_DIR and /metrics adds up the
files all of them write (prometheus-client's multiprocess mode). One process: the ordinary registry.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

__all__ = ["CONTENT_TYPE_LATEST", "metrics_text", "shared_metrics_dir"]

_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_text() -> bytes:
    directory = os.environ.get(_ENV)
    if not directory:
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


@contextmanager
def shared_metrics_dir(processes: int) -> Iterator[str | None]:
    """For more than one process: a fresh directory in the environment the processes inherit (set before any
    of them creates a metric), removed afterwards; stale files of a previous run would add up otherwise."""
    if processes <= 1 or os.environ.get(_ENV):
        yield os.environ.get(_ENV)
        return
    directory = tempfile.mkdtemp(prefix="radar-api-metrics-")
    os.environ[_ENV] = directory
    try:
        yield directory
    finally:
        os.environ.pop(_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)
