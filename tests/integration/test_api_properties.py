"""Property-based: requests generated from the API's own OpenAPI document, plus hostile ones, never get a 5xx.

Every route is driven by schemathesis from ``app.openapi()`` (positive cases, and negative ones where the route
has parameters or a body), with a valid token, the read-only token, none, or whatever schemathesis makes up;
then by hypothesis directly with what a schema does not describe: lone surrogates, NUL, deep nesting, 5,000-digit
integers in any field, raw bytes as bodies and as ``Authorization`` values, and hostile query strings. A response
fails the test if it is a 5xx or a status the document does not list for the route.

The real app runs in uvicorn over HTTP, on the stack's Kafka (fresh topics: valid generated events are produced
and acknowledged, so ingest is exercised to the end) and on a fresh PostgreSQL database holding alerts and rollups
(PostgreSQL is the stricter store: it refuses NUL in text and 32-bit overflows). Budget: ``EXAMPLES`` per route
and mode, about 25 s in all.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.settings import Settings, TopicNames
from localdev.databases import fresh_postgres
from services.api.app import create_app
from stream.topics import ensure_topics
from tests.integration.test_api_queries import _populate
from tests.support.api_server import running_api
from tests.support.malformed import GOOD

EXAMPLES = 100
DOCUMENT = create_app(Settings()).openapi()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item]
BUDGET = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context: Any, value: Any) -> dict[str, bytes]:
    """NDJSON as the API reads it: one JSON value per line (the document describes it as an array of events)."""
    values = value if isinstance(value, list) else [value]
    return {"content": b"\n".join(json.dumps(v).encode() for v in values)}


def _documented(method: str, path: str) -> set[int]:
    return {int(code) for code in DOCUMENT["paths"][path][method.lower()]["responses"]}


@pytest.fixture(scope="module")
def api(stack: Settings) -> Iterator[tuple[str, Settings]]:
    unique = uuid.uuid4().hex[:10]
    names = TopicNames(**{field: f"p{unique}.{field}" for field in TopicNames.model_fields})
    scoped = stack.model_copy(update={"topics": names})
    ensure_topics(scoped, partitions=1)
    with fresh_postgres(stack.postgres_url, f"radar_p{unique}") as url:
        _populate(url)
        settings_ = scoped.model_copy(update={"database_url": url})
        with running_api(settings_) as base:
            yield base, settings_


def _auth(settings_: Settings) -> st.SearchStrategy[str | None]:
    """The ingest token, the read-only token, or None (keep whatever the generated case carries)."""
    return st.sampled_from([settings_.api_token.get_secret_value(), settings_.api_read_token.get_secret_value(), None])


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_generated_requests_never_get_a_5xx(api, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    base, settings_ = api
    operation = SCHEMA[path][method]
    modes = [schemathesis.GenerationMode.POSITIVE]
    spec = DOCUMENT["paths"][path][method.lower()]
    if spec.get("parameters") or spec.get("requestBody"):
        modes.append(schemathesis.GenerationMode.NEGATIVE)
    allowed = _documented(method, path)
    seen: list[int] = []
    started = time.monotonic()
    for mode in modes:

        @BUDGET
        @given(case=operation.as_strategy(generation_mode=mode), token=_auth(settings_))
        def check(case: Any, token: str | None) -> None:
            if token is not None:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            response = case.call(base_url=base, timeout=60)
            seen.append(response.status_code)
            assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
            assert response.status_code in allowed, (response.status_code, sorted(allowed), case.as_curl_command())

        check()
    print(f"{method} {path}: {len(seen)} requests in {time.monotonic() - started:.1f} s, statuses {sorted(set(seen))}")


hostile_text = st.sampled_from(["\ud800", "a\udfffb", "\u0000", "ACME\u0000X", "../../etc", "\u202e", "é" * 3, ""])
huge = st.sampled_from([b"9" * 5000, b"-" + b"9" * 4400, b"1e999", b"NaN", b"-Infinity", b'{"a":' * 5000 + b"1"])
FIELDS = ["id", "source", "kind", "text", "published_at", "lang", "entities", "author", "url", "meta"]


@st.composite
def hostile_records(draw: st.DrawFn) -> bytes:
    """A valid event with one field made hostile: a hostile string, a value Python's decoder refuses, or a
    hostile meta (surrogate keys, deep nesting); written as JSON bytes a serializer would never produce."""
    field = draw(st.sampled_from(FIELDS))
    event = {**GOOD, "id": f"h-{draw(st.uuids()).hex[:12]}", field: "__HOSTILE__"}
    choice = draw(st.integers(0, 2))
    if choice == 0:
        value = json.dumps(draw(hostile_text)).encode()
        if field in ("entities",):
            value = b"[" + value + b"]"
        elif field == "meta":
            value = b"{" + value + b": " + value + b"}"
    elif choice == 1:
        value = draw(huge)
        if value.startswith(b"{"):
            value += b"}" * 5000
    else:
        depth = draw(st.integers(1, 3000))
        value = b'{"k": ' + b"[" * depth + b"]" * depth + b"}"
    return json.dumps(event).encode().replace(b'"__HOSTILE__"', value)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    records = draw(st.lists(hostile_records() | st.just(json.dumps({**GOOD, "id": "h-ok"}).encode()), max_size=4))
    content_type = draw(st.sampled_from(["application/json", "application/x-ndjson", "text/plain", "", "a/b; x=\xe9"]))
    if draw(st.booleans()):
        return draw(st.binary(max_size=200)), content_type
    if "ndjson" in content_type:
        return b"\n".join(records), content_type
    return b"[" + b",".join(records) + b"]", content_type


@BUDGET
@given(body=hostile_bodies())
def _post_hostile(client: httpx.Client, body: tuple[bytes, str]) -> None:
    content, content_type = body
    response = client.post("/v1/events", content=content, headers={"Content-Type": content_type.encode("latin-1")})
    assert response.status_code < 500 and response.status_code in _documented("POST", "/v1/events"), response.text


def test_hostile_bodies_never_get_a_5xx(api) -> None:  # type: ignore[no-untyped-def]
    base, settings_ = api
    auth = {"Authorization": f"Bearer {settings_.api_token.get_secret_value()}"}
    with httpx.Client(base_url=base, timeout=60, headers=auth) as client:
        _post_hostile(client)


@BUDGET
@given(raw=st.binary(max_size=64), scheme=st.sampled_from([b"Bearer ", b"bearer ", b"Basic ", b"", b"Bearer  "]))
def _hostile_auth(client: httpx.Client, raw: bytes, scheme: bytes) -> None:
    # any byte HTTP allows in a header value (controls other than tab cannot even be sent)
    value = (scheme + bytes(b for b in raw if b == 9 or 32 <= b <= 126 or b >= 128)).strip()
    for method, path in (("GET", "/v1/alerts"), ("POST", "/v1/events"), ("GET", "/v1/entities")):
        response = client.request(method, path, headers={"Authorization": value}, content=b"{}")
        assert response.status_code in (401, 403), (value, response.status_code)


def test_hostile_authorization_headers_are_401(api) -> None:  # type: ignore[no-untyped-def]
    base, _ = api
    with httpx.Client(base_url=base, timeout=30) as client:
        _hostile_auth(client)


HOSTILE_VALUES = [
    b"9" * 5000,
    b"-1",
    b"0",
    b"2147483648",
    b"9223372036854775808",
    b"99999999999999999999",
    b"1e999",
    b"NaN",
    b"\x00",
    b"ACME\x00X",
    b"../../etc",
    b"\xed\xa0\x80",
    b"\xff\xfe",
    b"",
    b" ",
    b"a" * 10_000,
    b"0001-01-01T00:00:00+14:00",
    b"9999-12-31T23:59:59-14:00",
    b"99999-01-01",
    b"2026-01-05T10:00:00",
    "é".encode(),
]
GET_ROUTES = [path for method, path in OPERATIONS if method == "GET" and path.startswith("/v1/")]


def _parameters(path: str) -> list[str]:
    return [p["name"] for p in DOCUMENT["paths"][path]["get"].get("parameters", []) if p["in"] == "query"] + ["x"]


def _url(path: str, entity: bytes, query: str) -> str:
    return path.replace("{entity}", quote(entity, safe="")) + (f"?{query}" if query else "")


def test_every_query_parameter_with_every_hostile_value(api) -> None:  # type: ignore[no-untyped-def]
    """Exhaustive rather than sampled: each GET route x each of its query parameters (from the document) x each
    hostile value, and each hostile value as the path's entity; only 200, 404 (a path the router cannot match)
    and 422 are acceptable."""
    base, settings_ = api
    read = {"Authorization": f"Bearer {settings_.api_read_token.get_secret_value()}"}
    with httpx.Client(base_url=base, timeout=30, headers=read) as client:
        urls = [
            _url(path, b"ACME", f"{name}={quote(value, safe='')}")
            for path in GET_ROUTES
            for name in _parameters(path)
            for value in HOSTILE_VALUES
        ]
        urls += [_url("/v1/entities/{entity}/series", value, "") for value in HOSTILE_VALUES if value]
        for url in urls:
            response = client.get(url)
            assert response.status_code in (200, 404, 422), (url[:200], response.status_code, response.text[:300])
    print(f"{len(urls)} hostile query values, none answered 5xx")


@BUDGET
@given(
    path=st.sampled_from(GET_ROUTES),
    name=st.sampled_from(["limit", "before_id", "entity", "detector", "min_severity", "since", "until", "x"]),
    value=st.binary(max_size=40) | st.sampled_from(HOSTILE_VALUES),
    entity=st.binary(min_size=1, max_size=40),
)
def _hostile_query(client: httpx.Client, path: str, name: str, value: bytes, entity: bytes) -> None:
    url = _url(path, entity, f"{name}={quote(value, safe='')}")
    response = client.get(url)
    assert response.status_code in (200, 404, 422), (url[:200], response.status_code, response.text[:300])


def test_hostile_queries_never_get_a_5xx(api) -> None:  # type: ignore[no-untyped-def]
    base, settings_ = api
    read = {"Authorization": f"Bearer {settings_.api_read_token.get_secret_value()}"}
    with httpx.Client(base_url=base, timeout=30, headers=read) as client:
        _hostile_query(client)
