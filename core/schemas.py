"""The JSON Schemas of the public contracts, generated from the domain types (``radar schemas`` writes them to
``docs/schemas``; a unit test fails when those files are not current).

What a producer sends is described as it is accepted (validation), what the product publishes as it is written
(serialization). A few raw-event rules no schema can state (nesting depth, lone surrogates, finite numbers, the
event-time policy) are in ``docs/architecture.md`` and checked by the score stage and the HTTP ingest.

>>> sorted(public_schemas())
['alert', 'raw_event', 'scored_event', 'webhook_payload']
>>> public_schemas()["raw_event"]["required"]  # kind: the raw topic's kind when absent
['id', 'source', 'text', 'published_at']
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from core.alerts import Alert, WebhookPayload
from core.events import RawEvent, ScoredEvent

__all__ = ["DIALECT", "public_schemas", "schema_files"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# name -> (type, mode): input contracts as accepted, output contracts as written
_CONTRACTS: dict[str, tuple[type[BaseModel], JsonSchemaMode]] = {
    "raw_event": (RawEvent, "validation"),
    "scored_event": (ScoredEvent, "serialization"),
    "alert": (Alert, "serialization"),
    "webhook_payload": (WebhookPayload, "serialization"),
}


def public_schemas() -> dict[str, dict[str, Any]]:
    """Contract name -> its JSON Schema (draft 2020-12)."""
    schemas = {
        name: {"$schema": DIALECT, **model.model_json_schema(mode=mode)} for name, (model, mode) in _CONTRACTS.items()
    }
    # a raw event may leave out its kind (the raw topic's is used), a rule of the topic and not of the type
    raw = schemas["raw_event"]
    raw["required"] = [field for field in raw["required"] if field != "kind"]
    return schemas


def schema_files() -> dict[str, str]:
    """File name -> the exact text ``docs/schemas`` keeps (stable, so a stale copy shows up as a diff)."""
    return {
        f"{name}.json": json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
        for name, schema in public_schemas().items()
    }
