"""``radar replay``: files or generated scenarios into the raw topics, with progress and a summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.settings import Settings
from services.progress import progress_reporter

__all__ = ["build_scenario", "replay_cmd"]

console = Console()


def build_scenario(settings: Settings, name: str, seed: int):
    from inference.dataset import fetch_vader_sdist, parse_sdist
    from services.scenarios import SCENARIOS, generate
    from stream.entities import load_watchlist

    if name not in SCENARIOS:
        raise typer.BadParameter(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")
    texts = parse_sdist(fetch_vader_sdist(settings.cache_dir))
    return generate(SCENARIOS[name], texts, load_watchlist(settings.watchlist), seed=seed)


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
    from services.kafka_io.producer import EventProducer
    from services.replay import read_records, replay

    settings = Settings()
    if (file is None) == (scenario is None):
        raise typer.BadParameter("give a FILE or --scenario, not both")
    if scenario is not None:
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
