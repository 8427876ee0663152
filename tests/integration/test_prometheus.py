"""The real Prometheus (Debian's, started by the local stack) scraping a real worker, dispatcher and API: every
target up, the documented metrics there with their labels, the pipeline's alert rules loaded and valid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from core.settings import Settings
from localdev.serve import free_port
from localdev.stack.prometheus import RULES, PrometheusService
from localdev.workers import ROOT, running_worker
from storage.db import make_engine, upgrade
from tests.support.api_server import api_process


def _until(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.5)
    raise AssertionError(f"Prometheus never showed {what}")


def test_the_pipeline_alert_rules_are_valid_prometheus_rules(stack: Settings) -> None:
    PrometheusService(stack).install()
    checked = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "5 rules found" in checked.stdout + checked.stderr


def test_prometheus_scrapes_every_process_and_reads_their_metrics(fresh_topics, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'radar.db'}"
    engine = make_engine(db)
    upgrade(engine)
    engine.dispose()
    settings: Settings = fresh_topics().model_copy(
        update={"database_url": db, "worker_metrics_port": free_port(), "dispatcher_metrics_port": free_port()}
    )
    worker_port = str(settings.worker_metrics_port)
    env = {**os.environ, **settings.to_env(), "RADAR_DISPATCHER_METRICS_PORT": str(settings.dispatcher_metrics_port)}
    with (tmp_path / "dispatcher.log").open("wb") as log:
        dispatcher = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "dispatcher"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        with (
            running_worker(settings, tmp_path / "worker.log", extra={"RADAR_WORKER_METRICS_PORT": worker_port}),
            api_process(settings, tmp_path / "api.log") as (base, _),
        ):
            api_port = int(base.rsplit(":", 1)[1])
            httpx.post(  # one ingest, so the API's labelled counter has a series
                f"{base}/v1/events",
                json={
                    "id": "p1",
                    "source": "test",
                    "kind": "news",
                    "text": "Acme beats estimates",
                    "published_at": "2026-01-05T10:00:00Z",
                },
                headers={"Authorization": f"Bearer {settings.api_token.get_secret_value()}"},
                timeout=10,
            )
            local = settings.model_copy(
                update={"var_dir": tmp_path / "var", "api_port": api_port, "local_prometheus_port": free_port()}
            )
            prometheus = PrometheusService(local)
            prometheus.up()
            try:
                api = httpx.Client(base_url=f"{prometheus.url}/api/v1", timeout=5)

                def targets() -> dict[str, str]:
                    active = api.get("/targets").json()["data"]["activeTargets"]
                    health = {t["labels"]["job"]: t["health"] for t in active}
                    return health if set(health.values()) == {"up"} else {}

                assert set(_until(targets, 90, "every target up")) == {
                    "radar-worker",
                    "radar-dispatcher",
                    "radar-api",
                    "triton",
                }

                def series(query: str) -> list[dict[str, Any]]:
                    return api.get("/query", params={"query": query}).json()["data"]["result"]  # type: ignore[no-any-return]

                assert _until(lambda: series('radar_triton_waiting{job="radar-worker"}'), 30, "the worker's gauges")
                assert series('radar_outbox_pending_deliveries{job="radar-dispatcher"}')
                ingested = _until(lambda: series('radar_ingest_records_total{job="radar-api"}'), 30, "ingest counts")
                assert {s["metric"]["result"] for s in ingested} >= {"accepted"}
                assert series('nv_inference_request_success{job="triton"}')
                rules = api.get("/rules").json()["data"]["groups"]
                assert [g["name"] for g in rules] == ["radar-pipeline"] and len(rules[0]["rules"]) == 5
            finally:
                api.close()
                prometheus.down()
    finally:
        os.killpg(dispatcher.pid, signal.SIGTERM)
        dispatcher.wait(timeout=30)
