"""A worker that writes aggregates refuses a Redis that may evict keys (the real Redis, its policy changed for the
test and put back)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis

from core.errors import ConfigError
from core.settings import Settings
from localdev.workers import ROOT
from storage.redis_policy import check_redis_policy


@pytest.fixture
def evicting_redis(stack: Settings) -> Iterator[Settings]:
    client = redis.Redis.from_url(stack.redis_url)
    before = client.config_get("maxmemory-policy")["maxmemory-policy"]
    client.config_set("maxmemory-policy", "volatile-lru")
    try:
        yield stack
    finally:
        client.config_set("maxmemory-policy", before)
        client.close()


def test_the_stacks_redis_never_evicts(stack: Settings) -> None:
    check_redis_policy(stack.redis_url)  # noeviction: nothing raised


def test_a_worker_will_not_start_on_a_redis_that_evicts(evicting_redis: Settings) -> None:
    with pytest.raises(ConfigError, match="volatile-lru"):
        check_redis_policy(evicting_redis.redis_url)
    worker = subprocess.run(
        [sys.executable, "-m", "services.cli", "worker", "--agents", "aggregate"],
        cwd=ROOT,
        env={**os.environ, **evicting_redis.to_env(), "RADAR_WORKER_METRICS_PORT": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 1, worker.stdout[-2000:] + worker.stderr[-2000:]
    assert "maxmemory-policy noeviction" in worker.stdout + worker.stderr
