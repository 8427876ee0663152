"""The arguments of ``add_event.lua`` by name: one table, from which both the call and the script's header are built.

Redis hands a script its arguments as two positional arrays, KEYS and ARGV. With fifteen of them, a caller and a
script that disagree on one position count an event into the wrong bucket without any error. So the names live
here once, as the fields of :class:`AddEventKeys` and :class:`AddEventArgs` (their order is the array order):
``argv()`` builds the arrays from the fields, and :func:`script_source` prepends to the Lua body a generated
header that binds each field's name to its position (``local ttl_seen = ARGV[10]``). The body reads names only;
``tests/unit/test_add_event_script.py`` fails if it touches KEYS or ARGV itself or uses a name this table lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path

__all__ = ["ENTITIES_FIELD", "ENTITY_GROUP", "AddEventArgs", "AddEventKeys", "header", "script_body", "script_source"]

_BODY = Path(__file__).with_name("add_event.lua")
ENTITIES_FIELD = "entities"  # the one ARGV field of variable length; it takes the rest of ARGV, so it comes last
ENTITY_GROUP = ("entity", "label", "score", "snippet")  # what ``entities`` holds per entity, in order


@dataclass(frozen=True)
class AddEventKeys:
    """KEYS, in order."""

    seen_key: str  # the event id's dedupe marker
    entities_key: str  # sorted set: entity -> last minute it had events
    watermark_key: str  # the largest event time counted
    first_minute_key: str  # the earliest minute counted
    closed_through_key: str  # the last minute closed (the closer's)

    def argv(self) -> list[str]:
        return [getattr(self, f.name) for f in fields(self)]


@dataclass(frozen=True)
class AddEventArgs:
    """ARGV, in order; ``entities`` is the rest of ARGV: per entity its name, the label and score of the sentiment
    toward it, and its evidence snippet (JSON: id, text, score, source; storage.aggregates.snippet_of), so "A sues
    B" counts as bad news in B's buckets and not necessarily in A's."""

    prefix: str
    kind: str
    minute: int
    hour: int
    event_time: float
    ttl_seen: int
    ttl_minute: int
    ttl_hour: int
    ttl_meta: int
    ttl_voice: int
    voice: str  # the event's author, else its source; "" counts no voice
    entities: tuple[tuple[str, str, float, str], ...]

    def argv(self) -> list[str | int | float]:
        scalars: list[str | int | float] = [getattr(self, f.name) for f in fields(self) if f.name != ENTITIES_FIELD]
        return [*scalars, *(value for group in self.entities for value in group)]


def header() -> str:
    """The Lua lines that bind every name of the two tables to its position.

    >>> print(header().splitlines()[0]); print(header().splitlines()[5])
    local seen_key = KEYS[1]
    local prefix = ARGV[1]
    """
    lines = [f"local {f.name} = KEYS[{i}]" for i, f in enumerate(fields(AddEventKeys), 1)]
    scalars = [f.name for f in fields(AddEventArgs) if f.name != ENTITIES_FIELD]
    lines += [f"local {name} = ARGV[{i}]" for i, name in enumerate(scalars, 1)]
    lines += [
        f"local {ENTITIES_FIELD} = {{}}",
        f"for i = {len(scalars) + 1}, #ARGV do {ENTITIES_FIELD}[#{ENTITIES_FIELD} + 1] = ARGV[i] end",
    ]
    return "\n".join(lines) + "\n"


def script_body() -> str:
    """``add_event.lua`` as written: the body, which reads the names the header binds."""
    return _BODY.read_text()


@cache
def script_source() -> str:
    """The script Redis runs: the generated header, then the body."""
    return (
        "-- header: generated from storage/add_event.py\n"
        + header()
        + "-- body: storage/add_event.lua\n"
        + script_body()
    )
