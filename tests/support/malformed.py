"""Every way a raw record can be wrong, with a word its dead-letter reason must contain."""

from __future__ import annotations

import json

GOOD = {
    "id": "ok-1",
    "source": "wire",
    "kind": "news",
    "text": "Acme beats estimates",
    "published_at": "2026-01-05T10:00:00Z",
}


def _with(**changes: object) -> bytes:
    record = {**GOOD, **changes}
    return json.dumps({k: v for k, v in record.items() if v is not None}).encode()


def malformed_cases(prefix: str) -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, expected reason fragment); ids are unique per ``prefix``."""
    return {
        "not-json": (b"{this is not json", "not JSON"),
        "bad-utf8": (b'{"id": "\xff\xfe", "text": "x"}', "not UTF-8"),
        "json-array-not-object": (b"[1, 2, 3]", "not a JSON object"),
        "missing-id": (_with(id=None), "id: Field required"),
        "missing-text": (_with(id=f"{prefix}-nt", text=None), "text: Field required"),
        "mistyped-id": (_with(id=12345), "id: Input should be a valid string"),
        "mistyped-entities": (_with(id=f"{prefix}-me", entities="ACME"), "entities"),
        "empty-text": (_with(id=f"{prefix}-et", text="   "), "text"),
        "huge-text": (_with(id=f"{prefix}-ht", text="x" * 1_000_000), "text too long"),
        "bad-timestamp": (_with(id=f"{prefix}-bt", published_at="yesterday"), "published_at"),
        "naive-timestamp": (_with(id=f"{prefix}-nv", published_at="2026-01-05T10:00:00"), "timezone"),
        "bad-kind": (_with(id=f"{prefix}-bk", kind="blog"), "kind"),
        "id-too-long": (_with(id="x" * 129), "id"),
    }
