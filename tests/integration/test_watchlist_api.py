"""``/v1/watchlist`` over real HTTP on SQLite and PostgreSQL: the first request seeds the watchlist, GET takes the
read token, POST (201 created, 200 replaced) and DELETE (204, 404) the ingest token; bad input is a 422."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from tests.support.api_server import running_api

SEED = '[[entity]]\nid = "ACME"\nnames = ["Acme"]\ncashtags = ["ACME"]\n\n[[entity]]\nid = "GLBX"\nnames = ["Globex"]\n'


@pytest.fixture
def api(settings: Settings, sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Settings, httpx.Client]]:
    """The API over a watchlist on SQLite: its store's queries run on both dialects in test_watchlist_store."""
    seed = tmp_path / "watchlist.toml"
    seed.write_text(SEED)
    scoped = settings.model_copy(update={"database_url": sqlite_url, "watchlist": seed})
    with running_api(scoped) as base, httpx.Client(base_url=base, timeout=10) as client:
        yield scoped, client


def _auth(settings: Settings, *, write: bool) -> dict[str, str]:
    token = settings.api_token if write else settings.api_read_token
    return {"Authorization": f"Bearer {token.get_secret_value()}"}


def test_list_add_replace_remove(api: tuple[Settings, httpx.Client]) -> None:
    settings, client = api
    read, write = _auth(settings, write=False), _auth(settings, write=True)
    listed = client.get("/v1/watchlist", headers=read)
    assert listed.status_code == 200 and [e["id"] for e in listed.json()] == ["ACME", "GLBX"]
    assert listed.json()[0]["names"] == ["Acme"] and listed.json()[0]["min_severity"] == "info"
    body = {"id": "ZORG", "names": ["Zorgon"], "cashtags": ["$ZRG"], "min_severity": "high"}
    created = client.post("/v1/watchlist", json=body, headers=write)
    assert created.status_code == 201, created.text
    assert created.json()["cashtags"] == ["ZRG"] and created.json()["aliases"] == []
    replaced = client.post("/v1/watchlist", json={"id": "ZORG", "names": ["Zorgon", "Zorg"]}, headers=write)
    assert replaced.status_code == 200 and replaced.json()["min_severity"] == "info"
    assert replaced.json()["created_at"] == created.json()["created_at"]
    assert (
        client.post("/v1/watchlist", json={"id": "ZORG", "names": ["Zorgon", "Zorg"]}, headers=write).status_code == 200
    )
    assert client.delete("/v1/watchlist/ZORG", headers=write).status_code == 204
    assert client.delete("/v1/watchlist/ZORG", headers=write).status_code == 404
    assert [e["id"] for e in client.get("/v1/watchlist", headers=read).json()] == ["ACME", "GLBX"]


def test_removing_everything_does_not_seed_again(api: tuple[Settings, httpx.Client]) -> None:
    settings, client = api
    write = _auth(settings, write=True)
    for entity_id in ("ACME", "GLBX"):
        assert client.delete(f"/v1/watchlist/{entity_id}", headers=write).status_code == 204
    assert client.get("/v1/watchlist", headers=write).json() == []  # the ingest token may read too


def test_tokens(api: tuple[Settings, httpx.Client]) -> None:
    settings, client = api
    read = _auth(settings, write=False)
    body = {"id": "ZORG", "names": ["Zorgon"]}
    assert client.get("/v1/watchlist").status_code == 401
    assert client.post("/v1/watchlist", json=body).status_code == 401
    assert client.post("/v1/watchlist", json=body, headers=read).status_code == 403
    assert client.delete("/v1/watchlist/ACME", headers=read).status_code == 403
    assert client.delete("/v1/watchlist/ACME").status_code == 401


BAD_BODIES: list[Any] = [
    {},
    {"id": "ZORG"},
    {"id": "ZORG", "names": []},
    {"id": "ZORG", "names": ["  "]},
    {"id": "ZORG", "names": ["a\u0000b"]},
    {"id": "ZORG", "names": ["x" * 129]},
    {"id": "ZORG", "names": ["Zorgon"] * 33},
    {"id": "bad id", "names": ["X"]},
    {"id": "../etc", "names": ["X"]},
    {"id": "Z" * 65, "names": ["X"]},
    {"id": 7, "names": ["X"]},
    {"id": "ZORG", "names": "Zorgon"},
    {"id": "ZORG", "names": ["X"], "cashtags": ["$ $"]},
    {"id": "ZORG", "names": ["X"], "min_severity": "loud"},
    {"id": "ZORG", "names": ["X"], "alias": ["typo"]},
    [],
    "ZORG",
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_bodies_are_422(api: tuple[Settings, httpx.Client], body: Any) -> None:
    settings, client = api
    response = client.post("/v1/watchlist", json=body, headers=_auth(settings, write=True))
    assert response.status_code == 422, response.text


def test_bad_ids_in_the_path_are_422_and_bytes_too(api: tuple[Settings, httpx.Client]) -> None:
    settings, client = api
    write = _auth(settings, write=True)
    for path in ("/v1/watchlist/bad%20id", "/v1/watchlist/%00", "/v1/watchlist/" + "Z" * 65, "/v1/watchlist/%ED%A0%80"):
        assert client.delete(path, headers=write).status_code in (404, 422), path
    raw = client.post("/v1/watchlist", content=b"\xff\xfe{", headers={**write, "Content-Type": "application/json"})
    assert raw.status_code == 400  # not UTF-8: FastAPI's own answer, in the OpenAPI document
    surrogate = b'{"id": "ZORG", "names": ["\\ud800"]}'
    lone = client.post("/v1/watchlist", content=surrogate, headers={**write, "Content-Type": "application/json"})
    assert lone.status_code == 422, lone.text


def _stream(total: int, sent: list[int], chunk: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes of a JSON-looking body, counting in ``sent`` what the client was asked for."""
    block = b" " * chunk
    while sent[0] < total:
        sent[0] += chunk
        yield block


def test_writes_are_refused_before_their_body_is_read(api: tuple[Settings, httpx.Client]) -> None:
    """A 64 MiB POST without a token is a 401 before its body is read (the app pulls its first chunk at most); with
    the token, any route but ingest takes at most RADAR_API_MAX_BODY_BYTES (413, declared or streamed); the read
    token still gets its 403."""
    import asyncio

    from services.api.app import create_app

    settings, client = api

    async def pulled(path: str, headers: dict[str, str]) -> tuple[int, int]:
        sent = [0]

        async def body() -> Any:
            for chunk in _stream(64 << 20, sent):
                yield chunk

        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as local:
            response = await local.post(path, content=body(), headers=headers)
        return response.status_code, sent[0]

    for path in ("/v1/watchlist", "/v1/alerts/1/ack"):
        status, read = asyncio.run(pulled(path, {"Content-Type": "application/json"}))
        assert (status, read) == (401, 0) or (status == 401 and read <= 64 * 1024), (path, status, read)
        status, read = asyncio.run(pulled(path, _auth(settings, write=True)))
        assert status == 413 and read <= settings.api_max_body_bytes + 64 * 1024, (path, status, read)
    over_http = client.post("/v1/watchlist", content=b" " * (1 << 20), headers={"Content-Type": "application/json"})
    assert over_http.status_code == 401
    declared = client.post(
        "/v1/watchlist", content=b"x" * (settings.api_max_body_bytes + 1), headers=_auth(settings, write=True)
    )
    assert declared.status_code == 413 and "RADAR_API_MAX_BODY_BYTES" in declared.json()["detail"]
    read_only = client.post("/v1/watchlist", json={"id": "X", "names": ["X"]}, headers=_auth(settings, write=False))
    assert read_only.status_code == 403
