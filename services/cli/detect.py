"""``radar detect``: score an offline series (``timestamp,value``) with the stream's own series detector.

The same class, parameters and alert level as the minute closer, so what this prints about a file is what the
stream would alert on it (and what ``bench/nab.py`` scores on the Numenta Anomaly Benchmark).
"""

from __future__ import annotations

import csv
import math
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from core.errors import ConfigError
from stream.detectors.series import RECURRENCE_DAYS

__all__ = ["detect_cmd"]


def _read(path: Path) -> tuple[list[str], list[datetime], list[float]]:
    """Rows with a readable timestamp and value; the first bad row stops with its line number. Timestamps that go
    back (real logs have them) are scored in file order, as the stream would receive them."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"timestamp", "value"} <= set(reader.fieldnames):
            raise ConfigError(f"{path} needs a header with timestamp,value")
        raw: list[str] = []
        stamps: list[datetime] = []
        values: list[float] = []
        for line, row in enumerate(reader, start=2):
            try:
                stamp, value = datetime.fromisoformat(row["timestamp"].strip()), float(row["value"])
            except (ValueError, AttributeError) as exc:
                raise ConfigError(f"{path}:{line}: {exc}") from None
            if not math.isfinite(value):
                raise ConfigError(f"{path}:{line}: value {row['value']!r} is not a finite number")
            raw.append(row["timestamp"])
            stamps.append(stamp)
            values.append(value)
    return raw, stamps, values


def detect_cmd(
    input: Annotated[
        Path, typer.Option("--input", "-i", exists=True, dir_okay=False, help="CSV with columns timestamp,value")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV: timestamp,value,anomaly_score,alert")],
    plot: Annotated[Path | None, typer.Option(help="also draw the series, its scores and alerts to this PNG")] = None,
    recurrence_days: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=3650.0,
            help="alert on readings rarer than once in this many days of the series (the stream's level)",
        ),
    ] = RECURRENCE_DAYS,
) -> None:
    """Write ``timestamp,value,anomaly_score,alert`` for every input row: the score in [0, 1), and 1 where the
    stream would raise an alert (a reading rarer than once in ten days of this series, opening an episode).

    ``--recurrence-days`` moves the alert level: the level is a recurrence *of that series*, so it means the same
    on 1-minute and hourly files (on NAB's labelled files 1 day scores best, about NAB's density of anomalies)."""
    from stream.detectors.offline import score_series

    raw, stamps, values = _read(input)
    started = time.perf_counter()
    readings = score_series(values, stamps, recurrence_days=recurrence_days)
    elapsed = time.perf_counter() - started
    with output.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "anomaly_score", "alert"])
        for stamp, value, reading in zip(raw, values, readings, strict=True):
            writer.writerow([stamp, f"{value:g}", f"{reading.score:.8f}", int(reading.alert)])
    alerts = sum(r.alert for r in readings)
    typer.echo(
        f"{len(values)} rows scored in {elapsed:.2f} s -> {output}: {alerts} alerts "
        f"(readings rarer than once in {recurrence_days:g} days of this series)"
    )
    if plot:
        import numpy as np

        from bench.nab_plot import plot_series

        scores = np.array([r.score for r in readings])
        plot_series(stamps, np.array(values), scores, np.array([r.alert for r in readings]), plot, title=input.name)
