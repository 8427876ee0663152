from pathlib import Path

from core.settings import Settings


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
