"""``/v1/watchlist``: the entities the workers tag, managed at run time (they pick a change up within
``RADAR_WATCHLIST_REFRESH_S``, no restart).

``GET`` takes the read-only token; ``POST`` (create or replace one entity: 201 or 200) and ``DELETE`` (404 for an id
not watched) take the ingest token. Every input is checked by :class:`core.watchlist.EntitySpec` before it reaches
the database (422 otherwise), so no body gets a 5xx. The first request seeds the watchlist from the TOML file if no
process did yet (:func:`stream.watchlist.seed_watchlist`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from core.domain import Severity
from core.events import ENTITY_ID
from core.settings import Settings
from core.watchlist import EntitySpec
from services.api.deps import SettingsDep, require_ingest_token, require_read_token
from services.api.openapi import DATABASE_UNAVAILABLE, FORBIDDEN, UNAUTHORIZED
from services.api.schemas import ErrorOut
from storage.watchlist import Watched, find_entity, list_watched, remove_entity, upsert_entity
from stream.watchlist import seed_watchlist

__all__ = ["WatchedEntityOut", "router"]

router = APIRouter(prefix="/v1/watchlist", tags=["watchlist"], responses={**UNAUTHORIZED, **DATABASE_UNAVAILABLE})
EntityIdPath = Annotated[str, Path(pattern=ENTITY_ID, description="the entity's id")]


class WatchedEntityOut(BaseModel):
    """A watched entity and when it was added and last changed."""

    id: str
    names: list[str]
    aliases: list[str]
    cashtags: list[str]
    min_severity: Severity
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, watched: Watched) -> WatchedEntityOut:
        return cls(**watched.entity.to_json(), created_at=watched.created_at, updated_at=watched.updated_at)


def get_sessions(request: Request) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]


@contextmanager
def _seeded(sessions: sessionmaker[Session], settings: Settings) -> Iterator[Session]:
    """One transaction, committed before the route answers; the watchlist is seeded first if nobody did yet."""
    with sessions.begin() as session:
        seed_watchlist(session, settings.watchlist)
        yield session


@router.get("", response_model=list[WatchedEntityOut], dependencies=[Depends(require_read_token)])
def list_watchlist(sessions: SessionsDep, settings: SettingsDep) -> list[WatchedEntityOut]:
    """Every watched entity, by id."""
    with _seeded(sessions, settings) as session:
        return [WatchedEntityOut.of(watched) for watched in list_watched(session)]


@router.post(
    "",
    response_model=WatchedEntityOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_ingest_token)],
    responses={
        **FORBIDDEN,
        200: {"model": WatchedEntityOut, "description": "the entity existed: replaced"},
        400: {"model": ErrorOut, "description": "the body is not text FastAPI can decode (not UTF-8)"},
    },
)
def put_entity(spec: EntitySpec, sessions: SessionsDep, settings: SettingsDep, response: Response) -> WatchedEntityOut:
    """Watch an entity (201), or replace what an existing one holds (200)."""
    entity = spec.to_entity()
    with _seeded(sessions, settings) as session:
        change = upsert_entity(session, entity)
        watched = find_entity(session, entity_id=entity.id)
    if change != "created":
        response.status_code = status.HTTP_200_OK
    if watched is None:  # removed by another request between two statements of this one: report what was written
        now = datetime.now(UTC)
        watched = Watched(entity, now, now)
    return WatchedEntityOut.of(watched)


@router.delete(
    "/{entity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=[Depends(require_ingest_token)],
    responses={**FORBIDDEN, 404: {"model": ErrorOut, "description": "no watched entity has this id"}},
)
def delete_entity(entity_id: EntityIdPath, sessions: SessionsDep, settings: SettingsDep) -> Response:
    """Stop watching the entity (its alerts and series stay)."""
    with _seeded(sessions, settings) as session:
        removed = remove_entity(session, entity_id=entity_id)
    if not removed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no watched entity {entity_id!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
