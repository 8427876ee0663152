"""Endpoints for analysts and the dashboard: alerts, entities and their series (read-only token), and acknowledging
an alert (the write token, RADAR_API_TOKEN: the read-only one gets 403).

Every query value is bounded where it is declared, so out-of-range input is a 422 and never reaches the database:
ids fit the id column (a 32-bit INTEGER in PostgreSQL: SQLite and PostgreSQL refuse bigger ones with an error, a 500),
and names are printable text of a bounded length (PostgreSQL refuses a NUL in a string the same way).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request, Response
from sqlalchemy.orm import Session

from core.domain import AlertStatus, DetectorName, Severity, as_utc
from core.errors import Conflict, NotFound
from services.api.deps import require_ingest_token, require_read_token
from services.api.openapi import ACK_REFUSALS, DATABASE_UNAVAILABLE, NOT_FOUND, UNAUTHORIZED
from services.api.schemas import PRINTABLE, AckIn, AlertOut, AlertPage, EntityOut, SeriesOut, SeriesPoint
from storage.alerts_repo import acknowledge_alert, alert_from_row, entity_series, get_alert, list_alerts
from storage.dashboard import count_entities, entity_overview

__all__ = ["router"]

router = APIRouter(
    prefix="/v1", dependencies=[Depends(require_read_token)], responses={**UNAUTHORIZED, **DATABASE_UNAVAILABLE}
)

MAX_ID = 2**31 - 1  # alerts.id is a 32-bit INTEGER in PostgreSQL (migration 0001)
Name = Annotated[str | None, Query(max_length=256, pattern=PRINTABLE, description="exact match; empty: any")]
AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="the alert's id")]


def get_session(request: Request):
    with request.app.state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


@router.get("/alerts", response_model=AlertPage)
def alerts(
    session: SessionDep,
    entity: Name = None,
    detector: Annotated[DetectorName | None, Query(description="only this detector's alerts")] = None,
    min_severity: Annotated[Severity | None, Query(description="this severity or a higher one")] = None,
    status: Annotated[AlertStatus | None, Query(description="only alerts in this state")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="next_before_id of the page before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AlertPage:
    rows = list_alerts(
        session,
        entity=entity,
        detector=detector,
        min_severity=min_severity,
        status=status,
        since=since,
        until=until,
        before_id=before_id,
        limit=limit,
    )
    items = [AlertOut.of(alert_from_row(a)) for a in rows]
    return AlertPage(items=items, next_before_id=rows[-1].id if len(rows) == limit else None)


@router.get("/alerts/{alert_id}", response_model=AlertOut, responses=NOT_FOUND)
def alert(alert_id: AlertId, session: SessionDep) -> AlertOut:
    """One alert with its status and evidence (the texts that drove it, with their scores and sources)."""
    row = get_alert(session, alert_id=alert_id)
    if row is None:
        raise HTTPException(404, f"no alert with id {alert_id}")
    return AlertOut.of(alert_from_row(row))


@router.post(
    "/alerts/{alert_id}/ack",
    response_model=AlertOut,
    dependencies=[Depends(require_ingest_token)],
    responses=ACK_REFUSALS,
)
def acknowledge(alert_id: AlertId, session: SessionDep, body: Annotated[AckIn | None, Body()] = None) -> AlertOut:
    """Acknowledge an open alert (who: ``by``, "api" by default). Acknowledging it again changes nothing (the
    first acknowledgement stands); a resolved alert cannot be acknowledged (409)."""
    try:
        acknowledged = alert_from_row(acknowledge_alert(session, alert_id=alert_id, by=body.by if body else "api"))
        session.commit()
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return AlertOut.of(acknowledged)


@router.get("/entities", response_model=list[EntityOut])
def entities(
    session: SessionDep,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[EntityOut]:
    """Entities seen in the last 24 h of data (counted back from the newest rollup), most alerts first, in pages:
    ``X-Total-Count`` says how many there are, and ``Link: <…>; rel="next"`` names the next page while there is
    one."""
    rows = entity_overview(session, limit=limit, offset=offset)
    total = count_entities(session)
    response.headers["X-Total-Count"] = str(total)
    if offset + len(rows) < total:
        following = request.url.include_query_params(limit=limit, offset=offset + len(rows))
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return [EntityOut(entity=r.entity, last_minute=r.last_minute, items_24h=r.items, alerts_24h=r.alerts) for r in rows]


@router.get("/entities/{entity}/series", response_model=SeriesOut)
def series(
    entity: Annotated[str, Path(min_length=1, max_length=256, pattern=PRINTABLE)],
    session: SessionDep,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10080)] = 1440,
) -> SeriesOut:
    rows = entity_series(session, entity=entity, since=since, until=until, limit=limit)
    points = [
        SeriesPoint(
            minute=as_utc(r.minute),
            n=r.n,
            negative=r.negative,
            neutral=r.neutral,
            positive=r.positive,
            mean_score=r.mean_score,
        )
        for r in rows
    ]
    first = points[0].minute if points else since
    alert_rows = list_alerts(session, entity=entity, since=first, until=until, limit=200)
    return SeriesOut(entity=entity, points=points, alerts=[AlertOut.of(alert_from_row(a)) for a in alert_rows])
