"""The Faust application, built from Settings in the entry point (never at import time)."""

from __future__ import annotations

import ssl
from typing import Any

import faust

from core.settings import Settings

__all__ = ["create_app"]


def _credentials(settings: Settings) -> Any:
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None)
    if protocol.startswith("SASL"):
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context if protocol == "SASL_SSL" else None,
        )
    return faust.SSLCredentials(context)


def create_app(settings: Settings, *, app_id: str | None = None) -> faust.App:
    """One app per worker process; every worker with the same id is one consumer group."""
    brokers = [f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(",")]
    return faust.App(
        app_id or settings.consumer_group,
        broker=brokers,
        broker_credentials=_credentials(settings),
        store="memory://",
        web_enabled=False,
        broker_session_timeout=10,
        broker_heartbeat_interval=2,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        producer_compression_type="lz4",
        producer_linger_ms=5,
        producer_acks=-1,
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=True,
        stream_buffer_maxsize=4096,
        producer_max_request_size=8 * 1024 * 1024,  # dead letters of large records (see kafka_io.admin)
    )
