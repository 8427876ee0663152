"""A worker stops within 10 s of SIGTERM even while Kafka does not answer (a Kubernetes rollout gives 30 s; a person
at a terminal gives less). The stack's own broker is frozen with SIGSTOP, which is harsher than a stopped one: its
connections stay open and nothing comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from kafka import KafkaAdminClient

from core.settings import Settings
from localdev.stack.kafka import KafkaService
from localdev.workers import running_worker


def _wait_for_member(settings: Settings, timeout_s: float = 90) -> None:
    admin = KafkaAdminClient(**settings.kafka_python_config())
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            group = admin.describe_groups([settings.consumer_group])[settings.consumer_group]
            if group["group_state"] == "Stable" and group["members"]:
                return
            time.sleep(0.5)
        raise AssertionError(f"the worker did not join {settings.consumer_group} in {timeout_s:.0f} s")
    finally:
        admin.close()


def test_a_worker_exits_within_ten_seconds_of_sigterm_while_kafka_is_frozen(fresh_topics, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = fresh_topics()
    broker = KafkaService(settings).process.pid()
    assert broker is not None, "this test freezes the stack's own Kafka (radar stack up)"
    log = tmp_path / "worker.log"
    with running_worker(settings, log, agents="score,aggregate") as worker:
        _wait_for_member(settings)
        os.kill(broker, signal.SIGSTOP)
        try:
            time.sleep(2)  # the worker's connections now hang
            asked = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"still running 10 s after SIGTERM; log:\n{log.read_text()[-3000:]}") from None
            took = time.monotonic() - asked
        finally:
            os.kill(broker, signal.SIGCONT)
    print(f"worker stopped {took:.1f} s after SIGTERM with Kafka frozen")
    assert worker.returncode == 0, log.read_text()[-3000:]
