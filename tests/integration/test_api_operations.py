"""What an operator sees of the API: /readyz names a missing dependency (not its address; answers cached 2 s), and
/metrics counts every process."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from localdev.serve import free_port
from tests.support.api_server import api_process, running_api
from tests.support.malformed import GOOD


def test_readyz_is_ready_with_the_stack_up_and_names_what_is_missing(fresh_topics, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = fresh_topics().model_copy(update={"database_url": database_url})
    with running_api(settings) as base:
        ready = httpx.get(f"{base}/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "checks": {"sql": "ok", "redis": "ok", "kafka": "ok"}}
    no_redis = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with running_api(no_redis) as base:
        answer = httpx.get(f"{base}/readyz", timeout=30)
        assert httpx.get(f"{base}/healthz").status_code == 200, "liveness does not depend on the stores"
    assert answer.status_code == 503
    checks = answer.json()["checks"]  # what is missing, not why: the reason (hosts, ports) is in the log
    assert checks == {"sql": "ok", "redis": "unavailable", "kafka": "ok"}, checks
    assert "127.0.0.1" not in answer.text


def _ingested(metrics: str) -> float:
    return sum(float(v) for v in re.findall(r'^radar_ingest_records_total\{result="accepted"\} (\S+)$', metrics, re.M))


def test_metrics_count_every_api_process(fresh_topics, sqlite_url, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = fresh_topics().model_copy(update={"database_url": sqlite_url})
    headers = {"Authorization": f"Bearer {settings.api_token.get_secret_value()}"}
    n = 40
    now = datetime.now(UTC).isoformat()
    with api_process(settings, tmp_path / "api.log", workers=2) as (base, _pid):
        for i in range(n):  # a new connection each: uvicorn's processes share the listening socket
            event = {**GOOD, "id": f"metrics-{i}", "published_at": now}
            answer = httpx.post(f"{base}/v1/events", json=event, headers=headers, timeout=30)
            assert answer.status_code == 202, answer.text
        scrapes = {_ingested(httpx.get(f"{base}/metrics", timeout=30).text) for _ in range(6)}
    assert scrapes == {n}, f"every scrape must show all {n} records whichever process answers: {scrapes}"
