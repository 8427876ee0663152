"""``POST /v1/events``: one JSON object, a JSON array, or NDJSON (``application/x-ndjson``).

Valid records go to the raw topic of their kind (key = id) and the response waits until Kafka has them
(acks=all). Invalid records are reported per index and dead-lettered with their reason; the valid ones in the
same body still go through (status 422 when any record was refused, 202 otherwise).

No body gets a 500, whatever it holds. Over ``RADAR_INGEST_MAX_BODY_BYTES`` (read incrementally) or
``RADAR_INGEST_MAX_RECORDS`` records: 413 and nothing is produced. A record Python's JSON decoder cannot take
(5,000-deep nesting, a 5,000-digit integer) or that UTF-8 cannot carry (a ``"\\ud800"`` escape) is refused on its
own; in NDJSON every line stands alone, so with line 1 valid and line 2 hostile, line 1 **is produced** and line
2 is refused and dead-lettered (422). In a JSON array, an element the decoder cannot read leaves the rest of the
array unreadable, so such a body is one refused record (nothing produced, the body dead-lettered). Kafka away or
too slow: 503 with ``Retry-After`` (see :mod:`services.api.publish`).
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel

from core.errors import EventError
from core.settings import Settings
from services.api.deps import PublisherDep, SettingsDep, require_ingest_token
from services.api.openapi import ingest_request_body, ingest_responses
from services.api.publish import Outgoing, Publisher
from services.api.records import Record, TooManyRecords, split_body
from stream.deadletter import dead_letter
from stream.events import EventTimePolicy, RawEvent, validate_event

__all__ = ["MAX_EVENT_BYTES", "IngestResult", "build_router"]

INGESTED = Counter("radar_ingest_records_total", "Records received over HTTP", ["result"])
# An accepted event is one Kafka record on a raw topic; brokers refuse records over 1 MiB by default.
MAX_EVENT_BYTES = 1_000_000


class Rejected(BaseModel):
    index: int
    reason: str


class IngestResult(BaseModel):
    accepted: list[str]
    rejected: list[Rejected]


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to be over ``limit`` bytes: never held whole beyond it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body over {limit} bytes (RADAR_INGEST_MAX_BODY_BYTES); split it")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body over {limit} bytes (RADAR_INGEST_MAX_BODY_BYTES); split it")
    return bytes(body)


def _checked(record: Record, policy: EventTimePolicy) -> RawEvent:
    """The record as a valid event, or EventError: decoding, the event contract (what JSON allows but the pipeline
    cannot carry included) and the event-time policy, exactly as the score stage checks a Kafka record."""
    if record.error is not None:
        raise EventError(record.error)
    return validate_event(record.value, policy=policy)


def _outgoing(event: RawEvent, publisher: Publisher) -> Outgoing:
    value = json.dumps(event.to_json(), ensure_ascii=False).encode("utf-8")
    if len(value) > MAX_EVENT_BYTES:
        raise EventError(f"event is {len(value)} bytes as JSON, over the {MAX_EVENT_BYTES} a raw topic takes")
    return Outgoing(publisher.topic_for(event.kind), value, event.id)


def _triage(records: list[Record], settings: Settings, publisher: Publisher) -> tuple[IngestResult, list[Outgoing]]:
    """Accepted ids, refusals by index, and what to produce: each accepted event and each refusal's dead letter."""
    result = IngestResult(accepted=[], rejected=[])
    outgoing: list[Outgoing] = []
    policy = EventTimePolicy(max_future_s=settings.event_max_future_s, max_age_s=settings.event_max_age_s)
    for index, record in enumerate(records):
        try:
            outgoing.append(_outgoing(_checked(record, policy), publisher))
        except EventError as exc:
            result.rejected.append(Rejected(index=index, reason=exc.reason))
            letter = dead_letter(record.raw, exc.reason, stage="ingest", source_topic="http")
            outgoing.append(Outgoing(settings.topics.deadletter, letter.to_bytes(), letter.key))
            continue
        result.accepted.append(outgoing[-1].key or "")
    if not records:
        result.rejected.append(Rejected(index=0, reason="empty body"))
    return result, outgoing


def build_router(settings: Settings) -> APIRouter:
    """The ingest route; its OpenAPI entry states this deployment's caps."""
    router = APIRouter()

    @router.post(
        "/v1/events",
        status_code=202,
        dependencies=[Depends(require_ingest_token)],
        response_model=IngestResult,
        responses=ingest_responses(settings.ingest_max_records, settings.ingest_max_body_bytes, IngestResult),
        openapi_extra=ingest_request_body(settings.ingest_max_records),
    )
    async def ingest(request: Request, current: SettingsDep, publisher: PublisherDep) -> JSONResponse:
        body = await _read_limited(request, current.ingest_max_body_bytes)
        content_type = request.headers.get("content-type", "")
        try:
            records = split_body(body, content_type, max_records=current.ingest_max_records)
        except TooManyRecords as exc:
            raise HTTPException(413, str(exc)) from None
        result, outgoing = _triage(records, current, publisher)
        await publisher.publish(outgoing)
        INGESTED.labels("accepted").inc(len(result.accepted))
        INGESTED.labels("rejected").inc(len(result.rejected))
        return JSONResponse(result.model_dump(), status_code=422 if result.rejected else 202)

    return router
