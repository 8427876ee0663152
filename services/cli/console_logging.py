"""Where library logs go when a person runs a command: to a file, so the console carries only what they need.

kafka-python's coordinator records (with binary member metadata), assignor warnings and transformers' weight-loading
report are useful when something breaks and noise otherwise; the long-running processes (worker, api, dispatcher)
keep logging to their standard streams, which is where a process manager or Kubernetes collects them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["SERVICE_COMMANDS", "send_library_logs_to_file"]

SERVICE_COMMANDS = frozenset({"worker", "api", "dispatcher"})


def send_library_logs_to_file(path: Path) -> Path:
    """Route every logger (root and its children) to ``path``; with no console handler, nothing reaches the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)  # with a handler in place, Python's last-resort stderr handler stays silent
    root.setLevel(logging.INFO)
    # transformers keeps a stderr handler of its own unless told otherwise (read when it is first imported)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    logging.captureWarnings(True)
    return path
