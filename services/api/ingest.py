"""``POST /v1/events``: one JSON object, a JSON array, or NDJSON (``application/x-ndjson``).

Valid records go to the raw topic of their kind (key = id) and the response waits until Kafka has them
(acks=all). Invalid records are reported per index and dead-lettered with their reason; the valid ones in the
same body still go through (status 422 when any record was refused, 202 otherwise). Oversized bodies: 413.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel

from services.api.deps import ProducerDep, SettingsDep, require_ingest_token
from services.errors import EventError
from services.kafka_io.producer import delivered
from stream.deadletter import dead_letter
from stream.events import parse_json_bytes, validate_event

__all__ = ["IngestResult", "router"]

router = APIRouter()
INGESTED = Counter("radar_ingest_records_total", "Records received over HTTP", ["result"])


class Rejected(BaseModel):
    index: int
    reason: str


class IngestResult(BaseModel):
    accepted: list[str]
    rejected: list[Rejected]


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"body over {limit} bytes")
    return bytes(body)


def _parsed(raw: bytes) -> Any | EventError:
    try:
        return parse_json_bytes(raw)
    except EventError as exc:
        return exc


def _split(body: bytes, content_type: str) -> list[tuple[bytes, Any | EventError]]:
    """(original bytes, decoded value or the error) per record."""
    if "ndjson" in content_type or "jsonlines" in content_type:
        return [(line, _parsed(line)) for line in body.splitlines() if line.strip()]
    value = _parsed(body)
    if isinstance(value, list):
        return [(json.dumps(v, ensure_ascii=False).encode(), v) for v in value]
    return [(body, value)]


@router.post("/v1/events", dependencies=[Depends(require_ingest_token)], response_model=IngestResult)
async def ingest(request: Request, settings: SettingsDep, producer: ProducerDep) -> JSONResponse:
    body = await _read_limited(request, settings.ingest_max_body_bytes)
    records = _split(body, request.headers.get("content-type", "application/json"))
    accepted: list[str] = []
    rejected: list[Rejected] = []
    futures = []
    for index, (raw, value) in enumerate(records):
        try:
            if isinstance(value, EventError):
                raise value
            event = validate_event(value)
        except EventError as exc:
            rejected.append(Rejected(index=index, reason=exc.reason))
            futures.append(producer.send_dead_letter(dead_letter(raw, exc.reason, stage="ingest", source_topic="http")))
            continue
        futures.append(producer.send_event(event))
        accepted.append(event.id)
    if not records:
        rejected.append(Rejected(index=0, reason="empty body"))
    await asyncio.wait_for(delivered(futures), timeout=30)
    INGESTED.labels("accepted").inc(len(accepted))
    INGESTED.labels("rejected").inc(len(rejected))
    code = 422 if rejected else 202
    return JSONResponse(IngestResult(accepted=accepted, rejected=rejected).model_dump(), status_code=code)
