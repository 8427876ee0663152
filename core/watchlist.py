"""The watchlist's domain: a watched entity, what makes one valid, the TOML format it is seeded and imported from,
and a fingerprint that tells whether a watchlist changed.

An entity is an id (the aggregation key, ``ENTITY_ID``), display names (the first is the one shown) and aliases
(matched case-insensitively on word boundaries), cashtags (matched as ``$TAG``) and ``min_severity``: alerts for
the entity below it are not raised (a noisy entity is quieted without leaving the watchlist). The same checks
hold wherever an entity comes from (``radar entities``, ``/v1/watchlist``, a TOML file): :class:`EntitySpec`.

>>> spec = EntitySpec(id="ACME", names=[" Acme Corp ", "Acme", "Acme"], cashtags=["$ACME"], min_severity="high")
>>> entity = spec.to_entity()
>>> entity.names, entity.cashtags, entity.min_severity, entity.display_name
(('Acme Corp', 'Acme'), ('ACME',), <Severity.HIGH: 'high'>, 'Acme Corp')
>>> parse_watchlist('[[entity]]\\nid = "A B"\\nnames = ["A"]\\nmin_severity = "x"', where="w")  # doctest: +ELLIPSIS
Traceback (most recent call last):
core.errors.ConfigError: w: entity #1 ('A B'): id: String should match pattern ...; min_severity: Input ...
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from core.domain import Severity
from core.errors import ConfigError
from core.events import ENTITY_ID

__all__ = [
    "CASHTAG",
    "MAX_TERMS",
    "MAX_TERM_CHARS",
    "Entity",
    "EntitySpec",
    "fingerprint",
    "parse_watchlist",
    "read_watchlist",
    "validation_summary",
]

MAX_TERMS = 32  # names, aliases or cashtags of one entity
MAX_TERM_CHARS = 128
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # no control characters (PostgreSQL refuses NUL; a newline is no name)
CASHTAG = r"^\$?[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
Term = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=MAX_TERM_CHARS, pattern=PRINTABLE),
]
Cashtag = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, pattern=CASHTAG)]


@dataclass(frozen=True)
class Entity:
    """One watched entity, as the matcher, the stores and the filters use it."""

    id: str
    names: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    cashtags: tuple[str, ...] = ()
    min_severity: Severity = Severity.INFO

    @property
    def display_name(self) -> str:
        return self.names[0] if self.names else self.id

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "names": list(self.names),
            "aliases": list(self.aliases),
            "cashtags": list(self.cashtags),
            "min_severity": Severity(self.min_severity).value,
        }


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class EntitySpec(BaseModel):
    """A watched entity as a person writes it (API body, a TOML table): checked, names trimmed and de-duplicated,
    cashtags without their ``$``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(strict=True, pattern=ENTITY_ID)] = Field(
        description="the aggregation key: 1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit"
    )
    names: Annotated[list[Term], Field(min_length=1, max_length=MAX_TERMS)] = Field(
        description="display names, matched case-insensitively on word boundaries; the first is the one shown"
    )
    aliases: Annotated[list[Term], Field(max_length=MAX_TERMS)] = Field(
        default_factory=list, description="other names, matched like names"
    )
    cashtags: Annotated[list[Cashtag], Field(max_length=MAX_TERMS)] = Field(
        default_factory=list, description="tickers, matched as $TAG in any case (written with or without the $)"
    )
    min_severity: Severity = Field(
        default=Severity.INFO, description="alerts for this entity below this severity are not raised"
    )

    @field_validator("names", "aliases")
    @classmethod
    def _dedupe(cls, values: list[str]) -> list[str]:
        return _unique(values)

    @field_validator("cashtags")
    @classmethod
    def _bare(cls, values: list[str]) -> list[str]:
        return _unique([value.lstrip("$") for value in values])

    def to_entity(self) -> Entity:
        return Entity(self.id, tuple(self.names), tuple(self.aliases), tuple(self.cashtags), self.min_severity)


def validation_summary(exc: ValidationError) -> str:
    """A pydantic error as one line: ``field: message; field: message``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'entity'}: {error['msg']}" for error in exc.errors()
    )


def parse_watchlist(text: str, *, where: str = "watchlist") -> list[Entity]:
    """The entities of a watchlist file (``[[entity]]`` tables: id, names, aliases, cashtags, min_severity).

    Raises :class:`~core.errors.ConfigError` naming ``where`` and the entry for anything that is not a valid
    watchlist: bad TOML, an invalid entity, the same id twice.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    tables = data.get("entity", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise ConfigError(f"{where}: `entity` must be an array of tables ([[entity]])")
    entities: dict[str, Entity] = {}
    for number, table in enumerate(tables, start=1):
        try:
            entity = EntitySpec.model_validate(table).to_entity()
        except ValidationError as exc:
            raise ConfigError(f"{where}: entity #{number} ({table.get('id')!r}): {validation_summary(exc)}") from None
        if entity.id in entities:
            raise ConfigError(f"{where}: entity #{number}: the id {entity.id!r} appears twice")
        entities[entity.id] = entity
    return list(entities.values())


def read_watchlist(path: Path) -> list[Entity]:
    """:func:`parse_watchlist` on a file; a missing or unreadable file is a ConfigError too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the watchlist {path}: {exc}") from None
    return parse_watchlist(text, where=str(path))


def fingerprint(entities: Iterable[Entity], *, matching_only: bool = False) -> str:
    """A digest of the watchlist's content, whatever its order; ``matching_only``: of what tagging depends on
    (not ``min_severity``), so a sensitivity change does not rebuild the matcher.

    >>> a, b = Entity("A", ("Apex",)), Entity("B", ("Bolt",), min_severity=Severity.HIGH)
    >>> fingerprint([a, b]) == fingerprint([b, a]), fingerprint([a]) == fingerprint([a, b])
    (True, False)
    >>> fingerprint([b], matching_only=True) == fingerprint([Entity("B", ("Bolt",))], matching_only=True)
    True
    """
    rows = sorted((entity.to_json() for entity in entities), key=lambda row: row["id"])
    if matching_only:
        for row in rows:
            del row["min_severity"]
    return hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
