"""``radar replay``: files or generated scenarios into the raw topics, with progress and a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from core.progress import progress_reporter
from core.settings import Settings

__all__ = ["replay_cmd"]

console = Console()


def replay_cmd(
    file: Annotated[Path | None, typer.Argument(help="JSONL or CSV file of raw events")] = None,
    scenario: Annotated[str | None, typer.Option(help="smoke, demo, clean-day, incident-day")] = None,
    seed: int = 7,
    rate: Annotated[float | None, typer.Option(help="events per second")] = None,
    speedup: Annotated[float | None, typer.Option(help="event-time compression, e.g. 60: 1 h in 1 min")] = None,
    save: Annotated[Path, typer.Option(help="where a scenario's stream and ground truth are written")] = Path(
        "var/scenarios"
    ),
    dry_run: Annotated[bool, typer.Option(help="write the scenario files, send nothing")] = False,
) -> None:
    """Send events to Kafka (key = event id); bad records go to the dead-letter topic with their reason."""
    from localdev.replay import read_records, replay
    from stream.producer import EventProducer

    settings = Settings()
    records: list[bytes | dict[str, Any]]
    if (file is None) == (scenario is None):
        raise typer.BadParameter("give a FILE or --scenario, not both")
    if scenario is not None:
        from localdev.scenarios import build_scenario

        built = build_scenario(settings, scenario, seed)
        events_path, truth_path = built.write(save)
        console.print(f"scenario {scenario}: {len(built.events)} events -> {events_path}; ground truth {truth_path}")
        if dry_run:
            return
        records, total, origin = list(built.events), len(built.events), f"scenario:{scenario}"
    else:
        assert file is not None
        records, origin = list(read_records(file)), str(file)
        total = len(records)
    with EventProducer(settings) as producer, progress_reporter(console) as report:
        summary = replay(records, producer, rate=rate, speedup=speedup, total=total, progress=report, origin=origin)
    console.print(
        f"replay done: sent {summary.sent}, failed {summary.failed} (dead-lettered), "
        f"{summary.seconds:.1f} s, {summary.events_per_s:,.0f} events/s"
    )
