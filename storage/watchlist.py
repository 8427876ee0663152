"""The watchlist in SQL: every query the workers, the API and ``radar entities`` run on ``watched_entities`` and
``watchlist_state``, as functions with keyword arguments. Callers own the transaction (``with sessions.begin()``).

Seeding: the first process that reads the watchlist (a worker, the API, the command line) copies the TOML seed
into SQL, once. ``watchlist_state`` keeps a marker row; whoever inserts it seeds, everyone else (another process at
the same moment included: the insert is ``ON CONFLICT DO NOTHING`` on its primary key, which PostgreSQL makes the
second writer wait on, and SQLite serialises) finds it and leaves the table alone. Removing every entity later does
not seed again. Writes are race-safe the same way: an insert that finds the id taken by another process meanwhile
becomes an update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.domain import Severity, as_utc
from core.watchlist import Entity
from storage.dialect import insert_for
from storage.models import WatchedEntity, WatchlistState

__all__ = [
    "SEED_MARKER",
    "Change",
    "ImportCounts",
    "Watched",
    "ensure_seeded",
    "find_entity",
    "import_entities",
    "is_seeded",
    "list_entities",
    "list_watched",
    "remove_entity",
    "upsert_entity",
]

SEED_MARKER = "seeded"  # watchlist_state row: its value says where the seed came from
Change = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Watched:
    """A watched entity with its row's times."""

    entity: Entity
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _entity(row: WatchedEntity) -> Entity:
    return Entity(
        row.id,
        tuple(row.names),
        tuple(row.aliases or ()),
        tuple(row.cashtags or ()),
        Severity(row.min_severity),
    )


def _columns(entity: Entity) -> dict[str, Any]:
    return {
        "names": list(entity.names),
        "aliases": list(entity.aliases),
        "cashtags": list(entity.cashtags),
        "min_severity": Severity(entity.min_severity).value,
    }


def list_watched(session: Session) -> list[Watched]:
    """Every watched entity with its times, by id."""
    rows = session.scalars(select(WatchedEntity).order_by(WatchedEntity.id))
    return [Watched(_entity(row), as_utc(row.created_at), as_utc(row.updated_at)) for row in rows]


def list_entities(session: Session) -> list[Entity]:
    """Every watched entity, by id (what the workers compile)."""
    return [_entity(row) for row in session.scalars(select(WatchedEntity).order_by(WatchedEntity.id))]


def find_entity(session: Session, *, entity_id: str) -> Watched | None:
    row = session.get(WatchedEntity, entity_id)
    return Watched(_entity(row), as_utc(row.created_at), as_utc(row.updated_at)) if row is not None else None


def _insert_new(session: Session, entity: Entity, now: datetime) -> bool:
    """Insert the entity unless its id exists (committed by another process meanwhile included); True if inserted."""
    statement = (
        insert_for(session, WatchedEntity)
        .values(id=entity.id, **_columns(entity), created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(WatchedEntity.id)  # a row back: inserted (PostgreSQL's rowcount is -1 here, so it cannot tell)
    )
    return session.execute(statement).first() is not None


def upsert_entity(session: Session, entity: Entity, *, now: datetime | None = None) -> Change:
    """Create the entity, or replace what it holds (``updated_at`` moves only when something changed)."""
    now = now or datetime.now(UTC)
    row = session.get(WatchedEntity, entity.id)
    if row is None:
        if _insert_new(session, entity, now):
            return "created"
        row = session.get(WatchedEntity, entity.id, populate_existing=True)
        if row is None:  # pragma: no cover - inserted and removed again between two statements
            return "created" if _insert_new(session, entity, now) else "unchanged"
    if _entity(row) == entity:
        return "unchanged"
    session.execute(
        update(WatchedEntity).where(WatchedEntity.id == entity.id).values(**_columns(entity), updated_at=now)
    )
    session.expire(row)
    return "updated"


def remove_entity(session: Session, *, entity_id: str) -> bool:
    """Stop watching the entity; False when it was not watched."""
    result = session.execute(delete(WatchedEntity).where(WatchedEntity.id == entity_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]  # a DML result is a CursorResult


def import_entities(session: Session, entities: Iterable[Entity], *, now: datetime | None = None) -> ImportCounts:
    """Upsert every entity (a TOML import); entities not in ``entities`` are left as they are."""
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for entity in entities:
        counts[upsert_entity(session, entity, now=now)] += 1
    return ImportCounts(**counts)


def is_seeded(session: Session) -> bool:
    return session.get(WatchlistState, SEED_MARKER) is not None


def ensure_seeded(
    session: Session,
    seed: Callable[[], Sequence[Entity] | None],
    *,
    source: str = "deploy/watchlist.toml",
    now: datetime | None = None,
) -> bool:
    """Copy the seed into SQL unless it was done before; True when this call seeded.

    ``seed`` is called only when seeding is due; it returns None when there is nothing to seed from yet (no seed
    file): then nothing is marked, and a later call tries again. Ids already in the table are left as they are.
    """
    if is_seeded(session):
        return False
    entities = seed()
    if entities is None:
        return False
    now = now or datetime.now(UTC)
    marker = (
        insert_for(session, WatchlistState)
        .values(name=SEED_MARKER, value=source[:256], updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(WatchlistState.name)
    )
    if session.execute(marker).first() is None:  # another process seeded first
        return False
    for entity in entities:
        _insert_new(session, entity, now)
    return True
