"""The score stage's pure steps: decode and validate, drop duplicates, tag entities, tell the language, build
scored events (every scored event carries its ``lang``: the producer's, or the one its text shows).

No Kafka, no Triton here: the agent feeds raw messages in and sends what comes out, so all of this is tested
without a broker.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.errors import EventError
from core.events import ModelRef, RawEvent, ScoredEvent, Sentiment, dedupe_key
from core.language import resolve_lang
from stream.deadletter import DeadLetter, refused
from stream.events import EventTimePolicy, decode_event

__all__ = [
    "Incoming",
    "Mentions",
    "Prepared",
    "RecentIds",
    "Tagger",
    "as_mentions",
    "encode",
    "prepare_batch",
    "scored_event",
    "unhandled",
]


@dataclass(frozen=True)
class Incoming:
    """One Kafka message as the agent received it."""

    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int


Mentions = dict[str, str]  # entity id -> its first mention as the text writes it, in order of first mention
Tagger = Callable[[str], Sequence[str] | Mapping[str, str]]  # ids, or ids with their mentions (LiveWatchlist.mentions)


def as_mentions(found: Sequence[str] | Mapping[str, str]) -> Mentions:
    """A tagger's answer as mentions: a bare id stands for itself (a producer's entity, a tagger without offsets).

    >>> as_mentions(["A", "B", "A"]), as_mentions({"MOUTAI": "贵州茅台"})
    ({'A': 'A', 'B': 'B'}, {'MOUTAI': '贵州茅台'})
    """
    if isinstance(found, Mapping):
        return {str(k): str(v) for k, v in found.items()}
    return {e: e for e in dict.fromkeys(found)}


@dataclass
class Prepared:
    valid: list[tuple[RawEvent, Mentions, Incoming]] = field(default_factory=list)  # event, entities, message
    dead: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0


class RecentIds:
    """A bounded memory of recently scored event ids.

    Events are keyed by id, so a repeated id lands on the same partition and so the same worker: within one
    worker's lifetime this drops every producer-side duplicate. What slips through (a restart, a rebalance) is
    caught by the aggregate stage's idempotent Lua update.

    >>> seen = RecentIds(capacity=2)
    >>> seen.add("a"); seen.add("b"); seen.add("c")
    >>> "a" in seen, "c" in seen
    (False, True)
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


def prepare_batch(
    items: Sequence[Incoming],
    *,
    kind_of_topic: dict[str, str],
    tag: Tagger,
    seen: RecentIds,
    policy: EventTimePolicy | None = None,
    now: datetime | None = None,
) -> Prepared:
    """Valid, new events with their entities, plus a dead letter for every message that is not one.

    No record can stop the batch: a failure this code did not foresee is dead-lettered too, the exception named,
    and the valid events around it go on (a crash would redeliver the whole batch, and its poison, for ever).
    """
    out = Prepared()
    in_batch: set[str] = set()
    clock = now or datetime.now(UTC)
    for item in items:
        try:
            event = decode_event(item.value, default_kind=kind_of_topic.get(item.topic), policy=policy, now=clock)
            key = dedupe_key(event.source, event.id)
            if key in seen or key in in_batch:
                out.duplicates += 1
                continue
            entities = as_mentions(event.entities if event.entities else tag(event.text))
            event = event.model_copy(update={"lang": resolve_lang(event.lang, event.text)})
            encode(event)  # what is sent must encode: a surprise here is this record's, not the batch's
        except EventError as exc:
            out.dead.append(refused(item, exc.reason, stage="validate", now=now))
            continue
        except Exception as exc:  # noqa: BLE001 - any record the code cannot handle is dead-lettered, never fatal
            out.dead.append(unhandled(item, exc, now))
            continue
        in_batch.add(key)
        out.valid.append((event, entities, item))
    return out


def unhandled(item: Incoming, exc: Exception, now: datetime | None = None) -> DeadLetter:
    """The dead letter of a record some step failed on unexpectedly: the exception is named in the reason."""
    return refused(item, f"unhandled {type(exc).__name__}: {exc}"[:1000], stage="validate", now=now)


def scored_event(
    event: RawEvent,
    entities: Iterable[str],
    probs: Sequence[float],
    *,
    model: str,
    now: datetime | None = None,
    toward: Mapping[str, Sequence[float]] | None = None,
) -> ScoredEvent:
    """The scored-event contract: the raw event plus resolved entities, sentiment, model and scored_at.

    ``model`` is the label the Triton client reports, ``name/version``; ``toward`` the probabilities toward each
    entity, where the model reads pairs.

    >>> from datetime import datetime, UTC
    >>> raw = RawEvent(id="1", source="s", kind="news", text="t", published_at=datetime(2026, 1, 5, tzinfo=UTC))
    >>> s = scored_event(raw, ["ACME"], [0.1, 0.2, 0.7], model="sentiment/1", now=datetime(2026, 1, 5, tzinfo=UTC))
    >>> s.sentiment.label, s.entities, s.model
    (<Label.POSITIVE: 'positive'>, ['ACME'], ModelRef(name='sentiment', version='1'))
    >>> sent = json.loads(encode(s))
    >>> sent["sentiment"], sent["scored_at"]
    ({'label': 'positive', 'score': 0.6, 'probs': [0.1, 0.2, 0.7]}, '2026-01-05T00:00:00+00:00')
    >>> s = scored_event(raw, ["A", "B"], [0.3, 0.4, 0.3], model="m/1", toward={"B": [0.8, 0.1, 0.1]})
    >>> s.toward("A").label, s.toward("B").label
    (<Label.NEUTRAL: 'neutral'>, <Label.NEGATIVE: 'negative'>)
    """
    name, _, version = model.partition("/")
    return ScoredEvent.model_validate(
        {
            **dict(event),
            "entities": list(entities),
            "sentiment": Sentiment.of(probs),
            "entity_sentiments": {e: Sentiment.of(p) for e, p in (toward or {}).items()},
            "model": ModelRef(name=name, version=version),
            "scored_at": now or datetime.now(UTC),
        }
    )


def encode(record: RawEvent | Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as the stream topics carry records; an event's unset fields are left out."""
    value = record.to_json() if isinstance(record, RawEvent) else record
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
