import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from core.settings import Settings, TopicNames, local_stack_fields


def test_environment_overrides_and_nested_topics(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("RADAR_KAFKA_BOOTSTRAP_SERVERS", "broker-1:19092,broker-2:19092")
    monkeypatch.setenv("RADAR_TOPICS__SCORED", "tenant.scored")
    monkeypatch.setenv("RADAR_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("RADAR_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("RADAR_KAFKA_SASL_USERNAME", "svc")
    monkeypatch.setenv("RADAR_KAFKA_SASL_PASSWORD", "s3cret")
    settings = Settings(_env_file=None)
    assert settings.topics.scored == "tenant.scored"
    assert settings.topics.raw_news == "radar.raw.news"
    assert settings.kafka_port == 19092
    config = settings.kafka_python_config()
    assert config["bootstrap_servers"] == ["broker-1:19092", "broker-2:19092"]
    assert config["sasl_plain_password"] == "s3cret"
    assert "s3cret" not in repr(settings)


def test_defaults_are_the_local_stack() -> None:
    settings = Settings(_env_file=None)
    assert (settings.kafka_port, settings.redis_port, settings.postgres_port, settings.triton_grpc_port) == (
        9092,
        6379,
        5432,
        8001,
    )
    assert settings.database_url.startswith("sqlite:///")
    assert settings.topics.all() == [
        "radar.raw.news",
        "radar.raw.social",
        "radar.scored",
        "radar.alerts",
        "radar.deadletter",
    ]
    assert isinstance(settings.var_dir, Path)


# Every RADAR_* name is a contract: deploy/ manifests, .env files and users set them. A field renamed, or moved
# into a nested model (RADAR_<SECTION>__<NAME>), breaks them silently: pydantic ignores what it does not know.
ENVIRONMENT = [
    "ALERTMANAGER_RESEND_S", "ALERTMANAGER_RESOLVED_FOR_S", "ALERTMANAGER_URL", "ALERT_RESOLVE_AFTER_S",
    "ALLOWED_LATENESS_S", "API_HOST", "API_MAX_BODY_BYTES", "API_PORT", "API_READ_TOKEN", "API_TOKEN",
    "BATCH_WINDOW_MS", "CACHE_DIR", "CLOSE_INTERVAL_S", "CONSUMER_GROUP", "DATABASE_URL", "DISPATCHER_METRICS_PORT",
    "ENTITY_QUOTA_PER_SOURCE", "EVENT_MAX_AGE_S", "EVENT_MAX_FUTURE_S", "IDLE_GRACE_S", "INFERENCE_TIMEOUT_S",
    "INGEST_KAFKA_TIMEOUT_S", "INGEST_MAX_BODY_BYTES", "INGEST_MAX_RECORDS", "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_CONTROLLER_PORT", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_PASSWORD", "KAFKA_SASL_USERNAME",
    "KAFKA_SECURITY_PROTOCOL", "KAFKA_SSL_CAFILE", "KAFKA_VERSION", "LOCAL_ALERTMANAGER_PORT",
    "LOCAL_PROMETHEUS_PORT", "MAX_BATCH_SIZE", "METRICS_HOST", "MODEL_DIR", "MODEL_NAME", "MODEL_NAME_ZH",
    "POSTGRES_URL", "PUBLIC_URL", "REDIS_PREFIX", "REDIS_URL", "RETENTION_DAYS", "SCORE_CONCURRENCY", "SECRETS_KEYS",
    "SETTLE_S", "TOPICS__ALERTS", "TOPICS__DEADLETTER", "TOPICS__RAW_NEWS", "TOPICS__RAW_SOCIAL", "TOPICS__SCORED",
    "TOPIC_PARTITIONS", "TOPIC_REPLICATION_FACTOR", "TRITON_GRPC_URL", "TRITON_HTTP_PORT", "TRITON_METRICS_PORT",
    "TRITON_TINY_ONLY", "VAR_DIR", "WATCHLIST", "WATCHLIST_REFRESH_S", "WEBHOOK_ALLOW_PRIVATE", "WORKER_METRICS_PORT",
    "WORKER_STOP_GRACE_S",
]  # fmt: skip


def _variables() -> list[str]:
    names = []
    for name in Settings.model_fields:
        if name == "topics":
            names += [f"TOPICS__{topic.upper()}" for topic in TopicNames.model_fields]
        else:
            names.append(name.upper())
    return sorted(names)


def test_every_environment_variable_keeps_its_name() -> None:
    assert _variables() == sorted(ENVIRONMENT)


def test_every_variable_is_read_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each RADAR_<FIELD> reaches its field (a string field is enough to show the name is the one read)."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(f"RADAR_{name}", raising=False)
    monkeypatch.setenv("RADAR_PUBLIC_URL", "https://radar.example")
    monkeypatch.setenv("RADAR_REDIS_PREFIX", "{tenant}:")
    monkeypatch.setenv("RADAR_RETENTION_DAYS", "90")
    monkeypatch.setenv("RADAR_TOPICS__ALERTS", "tenant.alerts")
    settings = Settings(_env_file=None)
    assert (settings.public_url, settings.redis_prefix, settings.retention_days, settings.topics.alerts) == (
        "https://radar.example",
        "{tenant}:",
        90.0,
        "tenant.alerts",
    )


@pytest.mark.parametrize("model", [Settings, TopicNames])
def test_every_setting_says_what_it_is_for(model: type[BaseModel]) -> None:
    undocumented = [name for name, field in model.model_fields.items() if not (field.description or "").strip()]
    assert not undocumented, f"{model.__name__} fields without a description: {undocumented}"


def test_the_deployments_set_no_local_stack_setting() -> None:
    """The local stack's knobs (ports and versions of what `radar stack` runs, caches) are apart from production's:
    no manifest under deploy/ sets one."""
    local = {f"RADAR_{name.upper()}" for name in local_stack_fields()}
    assert "RADAR_POSTGRES_URL" in local and "RADAR_DATABASE_URL" not in local
    root = Path(__file__).resolve().parents[2] / "deploy"
    found = [
        f"{path.relative_to(root)}: {name}"
        for path in sorted(root.rglob("*"))
        if path.is_file()
        for name in sorted(set(re.findall(r"RADAR_[A-Z0-9_]+", path.read_text(errors="replace"))) & local)
    ]
    assert not found, found
