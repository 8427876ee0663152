"""The read API and the dashboard: real HTTP against a real database, and the page rendered by headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from storage.alerts_repo import record_minute
from storage.db import make_engine, make_sessionmaker
from stream.closer import Rollup
from stream.detectors import MinuteStats
from tests.integration.test_alert_store import MINUTE, _alert
from tests.support.api_server import running_api


def _populate(url: str) -> None:
    engine = make_engine(url)
    with make_sessionmaker(engine).begin() as session:
        rollups = [Rollup(e, MINUTE + m, MinuteStats(5 + (30 if e == "ACME" and m > 50 else 0), 1, 2, 2, 0.5, 1.0))
                   for m in range(60) for e in ("ACME", "GLBX")]  # fmt: skip
        record_minute(session, alerts=[_alert("ACME", "volume_spike", minute=MINUTE + 51),
                                       _alert("ACME", "negative_surge", "critical", minute=MINUTE + 53)],
                      rollups=rollups)  # fmt: skip
    engine.dispose()


@pytest.fixture
def api(stack, database_url):  # type: ignore[no-untyped-def]
    _populate(database_url)
    settings = stack.model_copy(update={"database_url": database_url})
    with running_api(settings) as base:
        yield settings, base


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
        series = client.get("/v1/entities/ACME/series", headers=read).json()
        assert len(series["points"]) == 60 and len(series["alerts"]) == 2
        assert series["points"][0]["minute"].startswith(
            datetime.fromtimestamp(MINUTE * 60, UTC).strftime("%Y-%m-%dT%H:%M")
        )
        since = (datetime.fromtimestamp(MINUTE * 60, UTC) + timedelta(minutes=55)).isoformat()
        assert len(client.get("/v1/entities/ACME/series", params={"since": since}, headers=read).json()["points"]) == 5


def test_dashboard_renders_in_headless_chromium(api, tmp_path, database_url) -> None:  # type: ignore[no-untyped-def]
    if not database_url.startswith("sqlite"):
        return  # the page is the same whatever the database; render it once
    settings, base = api
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed for the dashboard test (make test installs it)"
    url = f"{base}/#token={settings.api_read_token.get_secret_value()}"
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=8000",
             "--window-size=1280,900"]  # fmt: skip
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    assert 'data-ready="1"' in dom, dom[-2000:]
    table = re.search(r'<tbody id="alerts">(.*?)</tbody>', dom, re.S).group(1)  # type: ignore[union-attr]
    chart = re.search(r'<svg id="chart".*?</svg>', dom, re.S).group(0)  # type: ignore[union-attr]
    assert len(re.findall(r'class="alert-row"', table)) == 2
    assert len(re.findall(r'<rect class="bar"', chart)) == 60
    assert len(re.findall(r'class="alert-marker"', chart)) == 2
    assert "ACME spiked" in dom and "Volume and sentiment: ACME" in dom
    shot = tmp_path / "dashboard.png"
    subprocess.run([*flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 10_000
    shutil.copy(shot, Path(tempfile.gettempdir()) / "radar-dashboard.png")  # to look at after a run
