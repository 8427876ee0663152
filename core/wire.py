"""How instants look in the records the product publishes, where pydantic's default would differ from the contract.

Every record published since the first release (scored events' ``scored_at``, alerts on ``radar.alerts``, webhook
bodies) writes an instant as Python's ``isoformat()``, ``+00:00`` for UTC, where pydantic would write ``Z``.
Consumers compare and sign those bytes, so the domain types keep that form:

>>> from datetime import UTC
>>> from pydantic import TypeAdapter
>>> TypeAdapter(IsoInstant).dump_python(datetime(2026, 1, 5, 10, tzinfo=UTC), mode="json")
'2026-01-05T10:00:00+00:00'
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, PlainSerializer, WithJsonSchema

__all__ = ["IsoInstant"]


def _isoformat(value: datetime) -> str:
    return value.isoformat()


# an aware datetime (a naive one is refused, never guessed), written in JSON as datetime.isoformat()
IsoInstant = Annotated[
    AwareDatetime,
    PlainSerializer(_isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
