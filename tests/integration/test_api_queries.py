"""The read API and the dashboard: real HTTP against a real database, and the page rendered by headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core.alerts import Evidence
from core.explain import explain
from core.settings import Settings
from storage.alerts_repo import record_minute
from storage.db import make_engine, make_sessionmaker
from stream.closer import Rollup
from stream.detectors import MinuteStats
from tests.integration.test_alert_store import MINUTE, _alert
from tests.support.api_server import running_api
from tests.support.cdp import HEADLESS, chromium_page

RESOLVED_AT = datetime.fromtimestamp((MINUTE + 70) * 60, UTC)


def _populate(url: str) -> None:
    """Two ACME alerts: 1 volume_spike, resolved since; 2 negative_surge (critical), open."""
    engine = make_engine(url)
    spike = _alert("ACME", "volume_spike", minute=MINUTE + 51)
    with make_sessionmaker(engine).begin() as session:
        rollups = [
            Rollup(e, MINUTE + m, MinuteStats(5 + (30 if e == "ACME" and m > 50 else 0), 1, 2, 2, 0.5, 1.0))
            for m in range(60)
            for e in ("ACME", "GLBX")
        ]
        surge = _alert("ACME", "negative_surge", "critical", minute=MINUTE + 53)
        record_minute(session, alerts=[spike, surge], rollups=rollups)
    with make_sessionmaker(engine).begin() as session:
        story = explain(
            "ACME", [{"text": "Acme halts withdrawals", "score": -0.9, "source": "newswire"}] * 3, [], minutes=1
        )
        record_minute(session, alerts=[], rollups=[], resolved=[spike.resolved(RESOLVED_AT).with_explanation(story)])
    engine.dispose()


@contextmanager
def _serving(stack: Settings, url: str) -> Iterator[tuple[Settings, str]]:
    _populate(url)
    settings = stack.model_copy(update={"database_url": url})
    with running_api(settings) as base:
        yield settings, base


@pytest.fixture
def api(stack, database_url):  # type: ignore[no-untyped-def]
    """The API over the two alerts, on each dialect: its queries are the dialect-specific part."""
    with _serving(stack, database_url) as served:
        yield served


@pytest.fixture
def page_api(stack, sqlite_url):  # type: ignore[no-untyped-def]
    """The same, on SQLite only, for the dashboard in Chromium: the page is the same whatever the database."""
    with _serving(stack, sqlite_url) as served:
        yield served


def test_alerts_entities_and_series(api) -> None:  # type: ignore[no-untyped-def]
    settings, base = api
    read = {"Authorization": f"Bearer {settings.api_read_token.get_secret_value()}"}
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/v1/alerts").status_code == 401
        assert client.get("/v1/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
        page = client.get("/v1/alerts", params={"limit": 1}, headers=read).json()
        assert [a["detector"] for a in page["items"]] == ["negative_surge"] and page["next_before_id"]
        older = client.get("/v1/alerts", params={"limit": 1, "before_id": page["next_before_id"]}, headers=read).json()
        assert [a["detector"] for a in older["items"]] == ["volume_spike"]
        critical = client.get("/v1/alerts", params={"min_severity": "critical"}, headers=read).json()["items"]
        assert [a["entity"] for a in critical] == ["ACME"]
        entities = client.get("/v1/entities", headers=read).json()
        assert [(e["entity"], e["items_24h"], e["alerts_24h"]) for e in entities] == [
            ("ACME", 570, 2),
            ("GLBX", 300, 0),
        ]
        first = client.get("/v1/entities", params={"limit": 1}, headers=read)
        assert [e["entity"] for e in first.json()] == ["ACME"] and first.headers["X-Total-Count"] == "2"
        assert first.headers["Link"] == '</v1/entities?limit=1&offset=1>; rel="next"'
        last = client.get("/v1/entities?limit=1&offset=1", headers=read)
        assert [e["entity"] for e in last.json()] == ["GLBX"] and "Link" not in last.headers
        assert client.get("/v1/entities", params={"limit": 5000}, headers=read).status_code == 422
        series = client.get("/v1/entities/ACME/series", headers=read).json()
        assert len(series["points"]) == 60 and len(series["alerts"]) == 2
        assert series["points"][0]["minute"].startswith(
            datetime.fromtimestamp(MINUTE * 60, UTC).strftime("%Y-%m-%dT%H:%M")
        )
        since = (datetime.fromtimestamp(MINUTE * 60, UTC) + timedelta(minutes=55)).isoformat()
        assert len(client.get("/v1/entities/ACME/series", params={"since": since}, headers=read).json()["points"]) == 5


def test_dashboard_renders_in_headless_chromium(page_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings, base = page_api
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed for the dashboard test (make test installs it)"
    url = f"{base}/#token={settings.api_read_token.get_secret_value()}"
    flags = [chromium, *HEADLESS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=8000"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    assert 'data-ready="1"' in dom, dom[-2000:]
    table = re.search(r'<tbody id="alerts">(.*?)</tbody>', dom, re.S).group(1)  # type: ignore[union-attr]
    chart = re.search(r'<svg id="chart".*?</svg>', dom, re.S).group(0)  # type: ignore[union-attr]
    assert len(re.findall(r'class="alert-row"', table)) == 2
    assert re.findall(r'<td class="status st-(\w+)">', table) == ["open", "resolved"]
    assert len(re.findall(r'<rect class="bar"', chart)) == 60
    assert len(re.findall(r'class="alert-marker"', chart)) == 2
    assert "ACME spiked" in dom and "Volume and sentiment: ACME" in dom
    # the watchlist's entities (seeded from deploy/watchlist.toml), then the all-entities total apart from them
    entities = re.search(r'<div id="entities">(.*?)</section>', dom, re.S).group(1)  # type: ignore[union-attr]
    listed = re.findall(r'data-entity="([^"]+)"', entities)
    assert listed[0] == "ACME" and listed[-1] == "_all" and {"GLBX", "INIT"} <= set(listed), listed
    assert entities.index("watchlist (") < entities.index('data-entity="ACME"') < entities.index('id="total-label"')
    shot = tmp_path / "dashboard.png"
    subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, Path(tempfile.gettempdir()) / "radar-dashboard.png")  # to look at after a run


def _tokens(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    """Authorization headers: the read-only token, the write (ingest) token."""
    read = {"Authorization": f"Bearer {settings.api_read_token.get_secret_value()}"}
    return read, {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}


def test_alert_status_filter_and_one_alert_with_its_evidence(api) -> None:  # type: ignore[no-untyped-def]
    settings, base = api
    read, _ = _tokens(settings)
    with httpx.Client(base_url=base, timeout=10, headers=read) as client:
        by_status = {
            status: [a["detector"] for a in client.get("/v1/alerts", params={"status": status}).json()["items"]]
            for status in ("open", "acknowledged", "resolved")
        }
        assert by_status == {"open": ["negative_surge"], "acknowledged": [], "resolved": ["volume_spike"]}
        assert client.get("/v1/alerts", params={"status": "closed"}).status_code == 422
        resolved_id = client.get("/v1/alerts", params={"status": "resolved"}).json()["items"][0]["id"]
        one = client.get(f"/v1/alerts/{resolved_id}").json()
        assert (one["status"], one["resolved_at"]) == ("resolved", RESOLVED_AT.strftime("%Y-%m-%dT%H:%M:%SZ"))
        assert one["opened_at"] == one["window_end"] and one["acknowledged_at"] is None
        evidence = {"id": "e1", "text": "bad news", "score": -0.9, "source": "newswire", "kind": None, "label": None}
        assert one["evidence"] == [evidence]
        story = one["explanation"]  # written when it resolved
        assert story["representatives"] == [
            {"text": "Acme halts withdrawals", "copies": 3, "sources": 1, "score": -0.9}
        ] and story["summary"].startswith("ACME: 3 texts in 1 min")
        assert client.get("/v1/alerts/999").status_code == 404
        for bad in ("0", "-1", "2147483648", "99999999999999999999", "x"):
            assert client.get(f"/v1/alerts/{bad}").status_code == 422, bad
        assert client.get("/v1/alerts/1", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_acknowledging_an_alert(api) -> None:  # type: ignore[no-untyped-def]
    settings, base = api
    read, write = _tokens(settings)
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/v1/alerts", headers=read).json()["items"]
        open_id, resolved_id = (next(a["id"] for a in page if a["status"] == s) for s in ("open", "resolved"))
        assert client.post(f"/v1/alerts/{open_id}/ack").status_code == 401
        refused = client.post(f"/v1/alerts/{open_id}/ack", headers=read)
        assert refused.status_code == 403 and "RADAR_API_TOKEN" in refused.json()["detail"]
        acked = client.post(f"/v1/alerts/{open_id}/ack", json={"by": "alice"}, headers=write)
        assert acked.status_code == 200, acked.text
        first = acked.json()
        assert (first["status"], first["acknowledged_by"]) == ("acknowledged", "alice") and first["acknowledged_at"]
        again = client.post(f"/v1/alerts/{open_id}/ack", json={"by": "bob"}, headers=write)
        assert again.status_code == 200 and again.json() == first, "acknowledging twice changes nothing"
        assert client.post(f"/v1/alerts/{open_id}/ack", headers=write).json() == first  # no body: "api"
        listed = client.get("/v1/alerts", params={"status": "acknowledged"}, headers=read).json()["items"]
        assert [a["id"] for a in listed] == [open_id]
        conflict = client.post(f"/v1/alerts/{resolved_id}/ack", headers=write)
        assert conflict.status_code == 409 and "is resolved" in conflict.json()["detail"], conflict.text
        assert client.post("/v1/alerts/999/ack", headers=write).status_code == 404
        assert client.post("/v1/alerts/2147483648/ack", headers=write).status_code == 422
        for body in (b'{"by": ""}', b'{"by": "a\\u0000b"}', b'{"by": "\\ud800"}', b'"alice"', b"[", b'{"by": 7}'):
            refused = client.post(f"/v1/alerts/{open_id}/ack", content=body, headers={**write, **JSON})
            assert refused.status_code == 422, (body, refused.status_code, refused.text)


JSON = {"Content-Type": "application/json"}


async def test_dashboard_acknowledges_and_shows_the_texts_behind_an_alert(page_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings, base = page_api
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine).begin() as session:  # a third alert (id 3), open, for the second acknowledgement
        record_minute(session, alerts=[_alert("GLBX", "sentiment_shift", minute=MINUTE + 55)], rollups=[])
    engine.dispose()
    read_token, write_token = settings.api_read_token.get_secret_value(), settings.api_token.get_secret_value()
    status_of = "document.querySelector('tr.alert-row[data-id=\"{0}\"] td.status').textContent"
    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(f"{base}/#token={read_token}")
        await page.wait_for("document.body?.dataset.ready === '1'")  # its script ran under the page's CSP
        assert await page.evaluate("location.href") == f"{base}/"  # the token is out of the address bar
        statuses = await page.evaluate("[...document.querySelectorAll('#alerts td.status')].map(c => c.textContent)")
        assert statuses == ["open", "open", "resolved"]
        # the detail view: click an alert, read the texts that drove it, their scores and sources
        await page.evaluate("document.querySelector('tr.alert-row[data-id=\"2\"]').click()")
        await page.wait_for("document.querySelector('#detail tr.evidence') !== null")
        evidence = await page.evaluate(
            "[...document.querySelectorAll('#detail tr.evidence')].map(r => [...r.cells].map(c => c.textContent))"
        )
        assert evidence == [["-0.90", "newswire", "bad news"]]
        assert "Alert 2: ACME · negative_surge" in await page.evaluate("document.getElementById('detail').innerText")
        shot = await page.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        (Path(tempfile.gettempdir()) / "radar-dashboard-detail.png").write_bytes(base64.b64decode(shot["data"]))
        # acknowledge without a write token in the URL: asked for once, kept for this tab
        page.prompt_answer = write_token
        await page.evaluate("document.querySelector('#alerts button[data-ack=\"2\"]').click()")
        await page.wait_for(f"{status_of.format(2)} === 'acknowledged'")
        assert len(page.prompts) == 1 and "RADAR_API_TOKEN" in page.prompts[0]
        assert await page.evaluate("sessionStorage.getItem('radar-write-token')") == write_token
        await page.wait_for("document.getElementById('detail').innerText.includes('by dashboard')")  # re-read
        # the write token in the URL fragment: nothing is asked
        await page.evaluate("sessionStorage.clear()")
        await page.goto("about:blank")
        await page.goto(f"{base}/#token={read_token}&write={write_token}")
        await page.wait_for("document.body?.dataset.ready === '1'")
        page.prompt_answer = None
        await page.evaluate("document.querySelector('#alerts button[data-ack=\"3\"]').click()")
        await page.wait_for(f"{status_of.format(3)} === 'acknowledged'")
        assert (
            len(page.prompts) == 1 and await page.evaluate("document.querySelectorAll('button[data-ack]').length") == 0
        )
        # the resolved alert tells its story: the sentence, the texts said with their copies
        await page.evaluate("document.querySelector('tr.alert-row[data-id=\"1\"]').click()")
        await page.wait_for("document.querySelector('#detail p.summary') !== null")
        told = await page.evaluate("document.getElementById('detail').innerText")
        assert "ACME: 3 texts in 1 min" in told and "Acme halts withdrawals" in told, told
        copies = "[...document.querySelectorAll('#detail tr.representative')].map(r => r.cells[0].textContent)"
        assert await page.evaluate(copies) == ["3"]
    read, _ = _tokens(settings)
    with httpx.Client(base_url=base, timeout=10, headers=read) as client:
        for alert_id in (2, 3):
            alert = client.get(f"/v1/alerts/{alert_id}").json()
            assert (alert["status"], alert["acknowledged_by"]) == ("acknowledged", "dashboard")


async def test_chinese_names_and_texts_render_in_a_cjk_font(page_api, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Chinese entity's alert and its Chinese evidence render with a CJK font, not as empty boxes: Chromium says
    which platform font drew each glyph of the cell (make test installs fonts-noto-cjk)."""
    settings, base = page_api
    text = "华信银行逾期未兑付债券本息，投资者集体维权"
    alert = _alert("HXBK", "negative_surge", minute=MINUTE + 57).model_copy(
        update={
            "message": "华信银行 负面舆情激增",
            "evidence": [Evidence(id="z1", text=text, score=-0.8, source="微博")],
        }
    )
    engine = make_engine(settings.database_url)
    with make_sessionmaker(engine).begin() as session:
        record_minute(session, alerts=[alert], rollups=[])
    engine.dispose()
    async with chromium_page(tmp_path / "profile") as page:
        await page.goto(f"{base}/#token={settings.api_read_token.get_secret_value()}")
        await page.wait_for("document.body?.dataset.ready === '1'")
        await page.evaluate(
            "[...document.querySelectorAll('tr.alert-row')].find(r => r.innerText.includes('HXBK')).click()"
        )
        await page.wait_for("document.querySelector('#detail tr.evidence') !== null")
        cells = await page.evaluate("[...document.querySelector('#detail tr.evidence').cells].map(c => c.textContent)")
        assert cells == ["-0.80", "微博", text]
        await page.send("DOM.enable")
        await page.send("CSS.enable")
        root = (await page.send("DOM.getDocument"))["root"]["nodeId"]
        cell = await page.send("DOM.querySelector", {"nodeId": root, "selector": "#detail tr.evidence td:last-child"})
        fonts = (await page.send("CSS.getPlatformFontsForNode", {"nodeId": cell["nodeId"]}))["fonts"]
        shot = await page.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        (Path(tempfile.gettempdir()) / "radar-dashboard-zh.png").write_bytes(base64.b64decode(shot["data"]))
    cjk = [f for f in fonts if "CJK" in f["familyName"] or "CJK" in f.get("postScriptName", "")]
    assert cjk, f"no CJK font drew the Chinese text: {fonts}"
    assert sum(f["glyphCount"] for f in cjk) >= sum(1 for c in text if "\u4e00" <= c <= "\u9fff"), fonts


def test_the_dashboard_page_allows_its_own_script_and_no_framing(api) -> None:  # type: ignore[no-untyped-def]
    _, base = api
    page = httpx.get(f"{base}/", timeout=10)
    policy = page.headers["content-security-policy"]
    assert "script-src 'sha256-" in policy and "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
