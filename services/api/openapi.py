"""What the OpenAPI document says about bodies and refusals: every status a route can answer, and why.

The ingest body is read by hand (three content types, a record cap, per-record errors), so FastAPI cannot infer
it: :func:`ingest_request_body` spells it out. The property suite (tests/integration/test_api_properties.py)
generates requests from this document and fails on any status it does not list, so it stays honest.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from core.events import RawEvent
from services.api.schemas import ErrorOut

__all__ = [
    "ACK_REFUSALS",
    "DATABASE_UNAVAILABLE",
    "FORBIDDEN",
    "NOT_FOUND",
    "UNAUTHORIZED",
    "ingest_request_body",
    "ingest_responses",
]

Responses = dict[int | str, dict[str, Any]]

_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before sending again", "schema": {"type": "integer"}}}
UNAUTHORIZED: Responses = {
    401: {
        "model": ErrorOut,
        "description": "no bearer token, another scheme, or a token that is not the right one",
        "headers": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    }
}
FORBIDDEN: Responses = {403: {"model": ErrorOut, "description": "the read-only token on a route that writes"}}
DATABASE_UNAVAILABLE: Responses = {
    503: {"model": ErrorOut, "description": "the SQL store is unreachable; retry later", "headers": _RETRY_AFTER}
}
NOT_FOUND: Responses = {404: {"model": ErrorOut, "description": "no alert with that id"}}
ACK_REFUSALS: Responses = {
    **NOT_FOUND,
    400: {"model": ErrorOut, "description": "a body that cannot be parsed as JSON (too deep, a number too long)"},
    403: {"model": ErrorOut, "description": "the read-only token: acknowledging takes RADAR_API_TOKEN"},
    409: {"model": ErrorOut, "description": "the alert is resolved already: there is nothing to acknowledge"},
}


def ingest_responses(max_records: int, max_body_bytes: int, result: type[BaseModel]) -> Responses:
    """The refusals of ``POST /v1/events``; ``result`` is the per-record report (202 and 422 alike)."""
    return {
        **UNAUTHORIZED,
        **FORBIDDEN,
        413: {
            "model": ErrorOut,
            "description": f"more than {max_records} records (RADAR_INGEST_MAX_RECORDS) or more than "
            f"{max_body_bytes} bytes (RADAR_INGEST_MAX_BODY_BYTES) in one body: nothing was taken, split it",
        },
        422: {
            "model": result,
            "description": "some records were refused (each with its index and reason, and dead-lettered); the "
            "others were accepted, as with 202. A body that cannot be decoded at all is one refused record.",
        },
        503: {
            "model": ErrorOut,
            "description": "Kafka did not take the records in time; send the whole body again after Retry-After "
            "seconds (events are counted once per id, so resending is safe)",
            "headers": _RETRY_AFTER,
        },
    }


def ingest_request_body(max_records: int) -> dict[str, Any]:
    """``openapi_extra`` for ``POST /v1/events``: one event, a JSON array of events, or NDJSON."""
    event = RawEvent.model_json_schema()
    batch = {"type": "array", "items": event, "minItems": 1, "maxItems": max_records}
    return {
        "requestBody": {
            "required": True,
            "description": f"One event, a JSON array of at most {max_records} events, or NDJSON (one event per "
            "line). Records are validated one by one: a bad record is refused on its own.",
            "content": {
                "application/json": {"schema": {"oneOf": [event, batch]}},
                "application/x-ndjson": {
                    "schema": {**batch, "description": "serialised as one JSON event per line (JSON Lines)"}
                },
            },
        }
    }
