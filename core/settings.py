"""The one settings object, read from ``RADAR_*`` environment variables and an optional ``.env``.

Every entry point builds a :class:`Settings` once and passes it down; no module reads the environment on its
own, so tests can run several differently-configured pipelines in one process (fresh topic names per test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "TopicNames"]


class TopicNames(BaseModel):
    """Kafka topics of docs/architecture.md; overridable so tests and tenants can use their own names."""

    raw_news: str = "radar.raw.news"
    raw_social: str = "radar.raw.social"
    scored: str = "radar.scored"
    alerts: str = "radar.alerts"
    deadletter: str = "radar.deadletter"

    def all(self) -> list[str]:
        return [self.raw_news, self.raw_social, self.scored, self.alerts, self.deadletter]

    def raw(self) -> list[str]:
        return [self.raw_news, self.raw_social]


class Settings(BaseSettings):
    """Configuration of every Opinion Radar process (``RADAR_`` prefix, ``__`` for nested fields)."""

    model_config = SettingsConfigDict(env_prefix="RADAR_", env_file=".env", env_nested_delimiter="__", extra="ignore")

    # --- Kafka (managed services need SASL/SSL; the local stack is PLAINTEXT) ---
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    topics: TopicNames = Field(default_factory=TopicNames)
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    consumer_group: str = "radar"
    watchlist: Path = Path(__file__).resolve().parents[1] / "deploy" / "watchlist.toml"

    # --- stores ---
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "sqlite:///var/radar.db"
    postgres_url: str = "postgresql+psycopg://radar:radar@127.0.0.1:5432/radar"

    redis_prefix: str = "radar:"
    # event-time policy: events stamped further ahead of the wall clock, or older than this (what the minute
    # buckets keep), are dead-lettered with the reason; 0 turns the age limit off (replaying a historic file)
    event_max_future_s: float = Field(default=300.0, ge=0)
    event_max_age_s: float = Field(default=2 * 86_400.0, ge=0)
    allowed_lateness_s: float = 30.0
    # a minute's bound is used only once it is this old (wall time): a margin for producers that send events of
    # different partitions out of step, which matters in fast replays where 30 s of event time pass in 75 ms
    settle_s: float = Field(default=5.0, ge=0)
    idle_grace_s: float = 120.0
    close_interval_s: float = 5.0
    # an open alert resolves once its detector has stayed normal this long (event time)
    alert_resolve_after_s: float = Field(default=15 * 60.0, gt=0)
    # entities off the watchlist that one source may introduce per UTC day (producer-named; the rest are dropped from
    # their events, which still count under their other entities): each new entity costs buckets, rollups and a
    # detector for days. 0 admits watchlist entities only
    entity_quota_per_source: int = Field(default=1000, ge=0)
    # how often workers re-read the watchlist from SQL (a change reaches them within this)
    watchlist_refresh_s: float = Field(default=15.0, gt=0)
    # automatic retention of minute rollups and webhook deliveries (days; 0 keeps everything)
    retention_days: float = Field(default=0.0, ge=0)

    # --- inference ---
    triton_grpc_url: str = "127.0.0.1:8001"
    triton_http_port: int = 8000
    triton_metrics_port: int = 8002
    model_name: str = "sentiment"  # English, and the fallback of every language without a model of its own
    model_name_zh: str = "sentiment_zh"  # Chinese: a (target, text) pair model, so each entity has its sentiment
    model_dir: Path | None = None
    inference_timeout_s: float = Field(default=10.0, gt=0)
    max_batch_size: int = Field(default=64, ge=1)
    batch_window_ms: float = Field(default=5.0, ge=0)
    # Triton requests of max_batch_size in flight per batch: a worker's score agent takes batches of
    # max_batch_size * score_concurrency and sends them as that many concurrent requests (bench.pipeline: 4 beat 2)
    score_concurrency: int = Field(default=4, ge=1)
    worker_metrics_port: int = 9108
    # where the worker and dispatcher serve /metrics: loopback on a laptop, 0.0.0.0 in compose and Kubernetes
    metrics_host: str = "127.0.0.1"
    # SIGTERM/Ctrl-C: a worker gets this long to stop cleanly, then exits anyway (offsets not yet committed are
    # simply consumed again: nothing is lost); a Kubernetes rollout's grace period is 30 s
    worker_stop_grace_s: float = Field(default=8.0, gt=0)

    # --- local stack; heavy artefacts (downloads, trained models) live outside the clone ---
    var_dir: Path = Path("var")
    cache_dir: Path = Path.home() / ".cache" / "opinion-radar"
    kafka_version: str = "4.1.1"
    kafka_controller_port: int = 9093

    # --- API and webhooks ---
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    # where people reach the API and dashboard (links in Alertmanager alerts and webhook payloads): the bind
    # address is no link (0.0.0.0 in compose and Kubernetes); unset, http://<api_host>:<api_port>, loopback for 0.0.0.0
    public_url: str | None = None
    api_token: SecretStr = SecretStr("dev-ingest-token")
    api_read_token: SecretStr = SecretStr("dev-read-token")
    ingest_max_body_bytes: int = 5 * 1024 * 1024
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024)  # every other route's (watchlist, ack) body cap
    # hostile bodies: records per request (413 beyond) and how long ingest waits on Kafka before a 503
    ingest_max_records: int = Field(default=1000, ge=1)
    ingest_kafka_timeout_s: float = Field(default=10.0, gt=0)
    webhook_allow_private: bool = False
    # Fernet keys sealing webhook secrets at rest, comma-separated, newest first (storage/secret_box.py); unset:
    # secrets are stored in plain text (the local stack)
    secrets_keys: SecretStr | None = None
    dispatcher_metrics_port: int = 9109
    # --- Alertmanager: the dispatcher pushes alerts to its API v2 when a URL is set ---
    alertmanager_url: str | None = (
        None  # e.g. http://127.0.0.1:9094 (the local stack's, `radar stack up --alertmanager`)
    )
    alertmanager_resend_s: float = Field(default=60.0, gt=0)  # firing alerts re-sent this often, endsAt 4 ahead
    alertmanager_resolved_for_s: float = Field(default=300.0, ge=0)  # a resolution re-sent this long
    local_alertmanager_port: int = 9094  # the local stack's Alertmanager (9093, its default, is Kafka's controller)
    local_prometheus_port: int = 9095  # the local stack's Prometheus (`radar stack up --prometheus`)

    @property
    def kafka_port(self) -> int:
        return _port(self.kafka_bootstrap_servers.split(",")[0], 9092)

    @property
    def api_public_url(self) -> str:
        """``public_url`` without a trailing slash, or the API's own address where it is not set."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("0.0.0.0", "::", "") else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def redis_port(self) -> int:
        return urlsplit(self.redis_url).port or 6379

    @property
    def postgres_port(self) -> int:
        return urlsplit(self.postgres_url).port or 5432

    @property
    def triton_grpc_port(self) -> int:
        return _port(self.triton_grpc_url, 8001)

    @property
    def triton_http_url(self) -> str:
        return f"127.0.0.1:{self.triton_http_port}"

    def to_env(self) -> dict[str, str]:
        """The ``RADAR_*`` environment that makes a child process build exactly these settings."""
        env: dict[str, str] = {}

        def put(name: str, value: Any) -> None:
            if value is None:
                return
            if isinstance(value, BaseModel):
                for key in type(value).model_fields:
                    put(f"{name}__{key.upper()}", getattr(value, key))
                return
            env[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)

        for field_name in type(self).model_fields:
            put(f"RADAR_{field_name.upper()}", getattr(self, field_name))
        return env

    def kafka_python_config(self) -> dict[str, Any]:
        """Connection options for kafka-python clients (producer, consumer, admin)."""
        config: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap_servers.split(","),
            "security_protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            config["sasl_mechanism"] = self.kafka_sasl_mechanism
            config["sasl_plain_username"] = self.kafka_sasl_username
            config["sasl_plain_password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
            )
        if self.kafka_ssl_cafile:
            config["ssl_cafile"] = str(self.kafka_ssl_cafile)
        return config


def _port(hostport: str, default: int) -> int:
    _, _, port = hostport.rpartition(":")
    return int(port) if port.isdigit() else default
