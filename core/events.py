"""The event contracts (``docs/architecture.md``): a raw event as producers send it, and the scored event the score
stage publishes on ``radar.scored``.

They live at the bottom so that the stream stages, the HTTP ingest and the schema generator (``radar schemas``)
share one definition. The checks a model cannot express (bytes, nesting depth, lone surrogates, the event-time
policy) and the dead-letter reasons are the score stage's: ``stream/events.py``.

>>> from datetime import UTC, datetime
>>> raw = RawEvent(id="1", source="s", kind="news", text=" t ", published_at=datetime(2026, 1, 5, tzinfo=UTC))
>>> raw.to_json()
{'id': '1', 'source': 's', 'kind': 'news', 'text': 't', 'published_at': '2026-01-05T00:00:00Z'}
>>> Sentiment.of([0.1, 0.2, 0.7])
Sentiment(label=<Label.POSITIVE: 'positive'>, score=0.6, probs=[0.1, 0.2, 0.7])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from core.domain import LABELS, Label, signed_score
from core.wire import IsoInstant

__all__ = [
    "ENTITY_ID",
    "MAX_ENTITIES",
    "MAX_META_BYTES",
    "MAX_TEXT_CHARS",
    "EntityId",
    "EventId",
    "ModelRef",
    "RawEvent",
    "ScoredEvent",
    "Sentiment",
]

MAX_TEXT_CHARS = 20_000
MAX_ENTITIES = 32
MAX_META_BYTES = 16_384
ENTITY_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # an aggregation key: no path, no control characters, no spaces
PROB_DIGITS = 6  # probabilities and the signed score are published rounded to this many decimals
EventId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]
Name = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=256)]
EntityId = Annotated[str, StringConstraints(strict=True, pattern=ENTITY_ID)]
Entities = Annotated[list[EntityId], Field(max_length=MAX_ENTITIES)]


def dedupe_key(source: str | None, event_id: str) -> str:
    """What makes an event a repeat: its id *within its source* (two feeds may both number from 1, and no client can
    claim another source's ids in advance). The source's length first, so no pair of names can collide.

    >>> dedupe_key("wire", "123"), dedupe_key("a:b", "c") != dedupe_key("a", "b:c")
    ('4:wire:123', True)
    """
    source = source or ""
    return f"{len(source)}:{source}:{event_id}"


class RawEvent(BaseModel):
    """One news item or social post as producers send it (Kafka key = id). Unknown fields are ignored. Checked
    beyond this schema: at most 16 levels deep, meta at most 16 KiB as JSON, every string encodable as UTF-8, finite
    numbers, published_at within the event-time policy (docs/architecture.md)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: EventId
    source: Name
    kind: Literal["news", "social"] = Field(description="news or social; a raw event without one takes its raw topic's")
    text: Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)]
    published_at: AwareDatetime
    lang: Annotated[str, StringConstraints(strict=True, max_length=16)] | None = None
    entities: Entities | None = None
    author: Annotated[str, StringConstraints(strict=True, max_length=256)] | None = None
    url: Annotated[str, StringConstraints(strict=True, max_length=2048)] | None = None
    meta: dict[str, Any] | None = None

    @field_validator("meta")
    @classmethod
    def _meta_size(cls, meta: dict[str, Any] | None) -> dict[str, Any] | None:
        if meta is not None and len(json.dumps(meta, ensure_ascii=False).encode()) > MAX_META_BYTES:
            raise ValueError(f"larger than {MAX_META_BYTES} bytes as JSON")
        return meta

    def to_json(self) -> dict[str, Any]:
        """The record as published: fields that are not set are left out, not written as null."""
        return self.model_dump(mode="json", exclude_none=True)


class Sentiment(BaseModel):
    """The model's verdict on one text; probs in the contract's order: negative, neutral, positive."""

    model_config = ConfigDict(frozen=True)

    label: Label = Field(description="the most probable label")
    score: float = Field(ge=-1.0, le=1.0, description="p(positive) - p(negative)")
    probs: list[float] = Field(
        min_length=len(LABELS), max_length=len(LABELS), description=f"probabilities of {', '.join(LABELS)}"
    )

    @classmethod
    def of(cls, probs: Sequence[float]) -> Sentiment:
        """From the model's PROBS; label and score are derived from the rounded probabilities that are published."""
        rounded = [round(float(p), PROB_DIGITS) for p in probs]
        return cls(label=Label.of(rounded), score=round(signed_score(rounded), PROB_DIGITS), probs=rounded)


class ModelRef(BaseModel):
    """Which model scored an event: the Triton model's name and the version that answered."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str


class ScoredEvent(RawEvent):
    """A raw event plus its resolved entities, its sentiment, the model and when it was scored (radar.scored).

    ``entity_sentiments`` is the sentiment toward each entity ("A sues B" is bad news for B, less so for A), where
    the language's model reads (entity, text) pairs; an entity it does not list takes the text's ``sentiment``.
    """

    entities: Entities
    sentiment: Sentiment
    entity_sentiments: Annotated[dict[EntityId, Sentiment], Field(max_length=MAX_ENTITIES)] = Field(
        default_factory=dict, description="the sentiment toward each entity, where the model reads pairs"
    )
    model: ModelRef
    scored_at: IsoInstant

    def toward(self, entity: str) -> Sentiment:
        """The sentiment toward ``entity``: its own where the model gave one, else the text's."""
        return self.entity_sentiments.get(entity, self.sentiment)
