"""Replay scenarios from the real human-rated texts: seeded, reproducible, with their ground truth.

Tweets become social posts, NYT editorial snippets news items, movie and Amazon review snippets either. Each
watchlist entity gets Poisson arrivals in event time whose rate follows a daily rhythm (busy afternoons, quiet
nights) and a per-entity popularity. An incident multiplies one entity's volume by ``multiplier`` from its start
for its duration and skews its texts negative: the ground truth (entity, start, end) is written beside the stream
so detection can be scored.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from inference.dataset import Example
from stream.entities import Entity

__all__ = ["SCENARIOS", "Incident", "Scenario", "ScenarioSpec", "generate", "rhythm"]


@dataclass(frozen=True)
class Incident:
    entity: str
    start_min: float
    duration_min: float
    multiplier: float = 6.0
    negative_share: float = 0.85


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    duration_min: float
    rate_per_min: float  # mean events per minute per entity at rhythm 1
    incidents: tuple[Incident, ...] = ()
    daily_amplitude: float = 0.5
    social_share: float = 0.7
    mention_share: float = 0.7  # texts that name the entity (the rest carry an `entities` field)
    entities: tuple[str, ...] | None = None  # None: the whole watchlist


SCENARIOS: dict[str, ScenarioSpec] = {
    "smoke": ScenarioSpec("smoke", 60, 3.0, (Incident("ACME", 35, 10),), entities=("ACME", "GLBX", "INIT")),
    "demo": ScenarioSpec("demo", 120, 4.0, (Incident("ACME", 70, 20, multiplier=6, negative_share=0.85),)),
    "clean-day": ScenarioSpec("clean-day", 24 * 60, 2.0),
    "incident-day": ScenarioSpec("incident-day", 24 * 60, 2.0, (Incident("GLBX", 14 * 60, 30, 5, 0.8),)),
}


@dataclass
class Scenario:
    spec: ScenarioSpec
    seed: int
    start: datetime
    events: list[dict[str, Any]] = field(default_factory=list)

    def truth(self) -> dict[str, Any]:
        return {
            "scenario": self.spec.name,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": (self.start + timedelta(minutes=self.spec.duration_min)).isoformat(),
            "events": len(self.events),
            "incidents": [
                {**asdict(i), "start": (self.start + timedelta(minutes=i.start_min)).isoformat(),
                 "end": (self.start + timedelta(minutes=i.start_min + i.duration_min)).isoformat(),
                 "events": sum(1 for e in self.events if e["meta"].get("incident") == i.entity)}
                for i in self.spec.incidents
            ],
        }  # fmt: skip

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{self.spec.name}-{self.seed}"
        events, truth = directory / f"{stem}.jsonl", directory / f"{stem}.truth.json"
        with events.open("w") as handle:
            for event in self.events:
                handle.write(json.dumps(event, ensure_ascii=False) + "\n")
        truth.write_text(json.dumps(self.truth(), indent=2))
        return events, truth


def rhythm(t: datetime, amplitude: float) -> float:
    """Daily activity multiplier, highest at 15:00 UTC and lowest at 03:00.

    >>> [round(rhythm(datetime(2026, 1, 5, hour, tzinfo=UTC), 0.5), 3) for hour in (15, 3)]
    [1.5, 0.5]
    """
    hours = t.hour + t.minute / 60
    return 1.0 + amplitude * math.cos(2 * math.pi * (hours - 15) / 24)


def _mention(rng: random.Random, entity: Entity, text: str, kind: str) -> str:
    name = entity.names[0] if entity.names else entity.id
    if kind == "social" and entity.cashtags and rng.random() < 0.5:
        return f"{text} ${entity.cashtags[0]}"
    return f"{name}: {text}" if kind == "news" else f"{text} #{name.replace(' ', '')} {name}"


def generate(
    spec: ScenarioSpec,
    texts: list[Example],
    watchlist: list[Entity],
    *,
    seed: int = 7,
    start: datetime | None = None,
) -> Scenario:
    rng = random.Random(seed)
    poisson = np.random.default_rng(seed)
    start = (start or datetime.now(UTC)).replace(second=0, microsecond=0)
    entities = [e for e in watchlist if spec.entities is None or e.id in spec.entities]
    pools: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for example in texts:
        kinds = {"tweets": ["social"], "nyt": ["news"]}.get(example.domain, ["news", "social"])
        for kind in kinds:
            pools[(kind, "any")].append(example)
            pools[(kind, example.label)].append(example)
    popularity = {e.id: 0.5 + rng.random() for e in entities}
    scenario = Scenario(spec, seed, start)
    counter = 0
    for minute in range(int(spec.duration_min)):
        t0 = start + timedelta(minutes=minute)
        base = spec.rate_per_min * rhythm(t0, spec.daily_amplitude)
        for entity in entities:
            incident = next(
                (i for i in spec.incidents
                 if i.entity == entity.id and i.start_min <= minute < i.start_min + i.duration_min), None,
            )  # fmt: skip
            baseline_n = int(poisson.poisson(base * popularity[entity.id]))
            extra_n = int(poisson.poisson(base * popularity[entity.id] * (incident.multiplier - 1))) if incident else 0
            for n in range(baseline_n + extra_n):
                kind = "social" if rng.random() < spec.social_share else "news"
                in_incident = incident is not None and n >= baseline_n
                negative = in_incident and incident is not None and rng.random() < incident.negative_share
                example = rng.choice(pools[(kind, "negative" if negative else "any")])
                mentioned = rng.random() < spec.mention_share
                published = t0 + timedelta(seconds=rng.random() * 60)
                counter += 1
                event: dict[str, Any] = {
                    "id": f"{spec.name}-{seed}-{counter:07d}",
                    "source": f"sim-{example.domain}",
                    "kind": kind,
                    "text": _mention(rng, entity, example.text, kind) if mentioned else example.text,
                    "published_at": published.isoformat().replace("+00:00", "Z"),
                    "lang": "en",
                    "meta": {"domain": example.domain, "rating": example.rating, "label": example.label,
                             "entity": entity.id, "incident": entity.id if in_incident else None},
                }  # fmt: skip
                if not mentioned:
                    event["entities"] = [entity.id]
                scenario.events.append(event)
    scenario.events.sort(key=lambda e: e["published_at"])
    return scenario
