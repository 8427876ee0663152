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

__all__ = ["Settings", "TopicNames", "local_stack_fields"]


class TopicNames(BaseModel):
    """Kafka topics of docs/architecture.md; overridable so tests and tenants can use their own names."""

    raw_news: str = Field(default="radar.raw.news", description="raw news events, as producers publish them")
    raw_social: str = Field(default="radar.raw.social", description="raw social events, as producers publish them")
    scored: str = Field(default="radar.scored", description="events with their sentiment, for the aggregate agent")
    alerts: str = Field(default="radar.alerts", description="alerts when they open and when they resolve")
    deadletter: str = Field(default="radar.deadletter", description="every refused record, with the reason")

    def all(self) -> list[str]:
        return [self.raw_news, self.raw_social, self.scored, self.alerts, self.deadletter]

    def raw(self) -> list[str]:
        return [self.raw_news, self.raw_social]


def _local(default: Any, description: str, **constraints: Any) -> Any:
    """A field only the local stack, training or the benchmarks read: never set by deploy/ (a test checks)."""
    return Field(default=default, description=description, json_schema_extra={"local_stack": True}, **constraints)


class Settings(BaseSettings):
    """Configuration of every Opinion Radar process (``RADAR_`` prefix, ``__`` for nested fields).

    The fields stay flat, so each is one variable, ``RADAR_<FIELD>``, as deploy/ and users set them; the sections
    below group them. First what a deployment configures (Kafka, stores, the stream's timing, detection, inference,
    the processes, the API, webhooks, Alertmanager, retention), then the local stack's knobs (:func:`_local`: ports
    and versions of the services ``radar stack`` runs, where downloads and trained models are kept).
    """

    model_config = SettingsConfigDict(env_prefix="RADAR_", env_file=".env", env_nested_delimiter="__", extra="ignore")

    # ===== production: what a deployment configures =====

    # --- Kafka (managed services need SASL/SSL; the local stack is PLAINTEXT) ---
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka brokers, host:port, comma-separated"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="how clients talk to the brokers"
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism with a SASL protocol; unset: no SASL"
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password")
    kafka_ssl_cafile: Path | None = Field(default=None, description="CA bundle the brokers' certificates chain to")
    topics: TopicNames = Field(
        default_factory=TopicNames, description="topic names (RADAR_TOPICS__SCORED and so on: tests, tenants)"
    )
    topic_partitions: int = Field(
        default=6, ge=1, description="partitions of each topic `radar topics create` makes: the most workers that help"
    )
    topic_replication_factor: int = Field(default=1, ge=1, description="replicas of each topic it makes")
    consumer_group: str = Field(default="radar", description="the workers' Kafka consumer group (the Faust app id)")

    # --- stores ---
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", description="Redis: buckets, dedupe, detector state")
    redis_prefix: str = Field(
        default="radar:", description="prefix of every Redis key (one hash slot on a Redis Cluster: e.g. {radar}:)"
    )
    database_url: str = Field(
        default="sqlite:///var/radar.db", description="SQL store of alerts, rollups, the outbox (SQLAlchemy URL)"
    )

    # --- event time and closing minutes ---
    event_max_future_s: float = Field(
        default=300.0, ge=0, description="events stamped further ahead of the wall clock are dead-lettered"
    )
    event_max_age_s: float = Field(
        default=2 * 86_400.0,
        ge=0,
        description="older events are dead-lettered (what the minute buckets keep); 0: no limit, for historic replays",
    )
    allowed_lateness_s: float = Field(
        default=30.0, description="how long after its end a minute waits for late events before it closes"
    )
    settle_s: float = Field(
        default=5.0,
        ge=0,
        description="a closing bound is used once this old (wall time): a margin for producers whose partitions "
        "run out of step, which matters in fast replays where 30 s of event time pass in 75 ms",
    )
    idle_grace_s: float = Field(
        default=120.0, description="with nothing pending for this long the stream is quiet: its last minute closes"
    )
    close_interval_s: float = Field(default=5.0, description="how often a worker tries to close minutes")

    # --- detection, alerts and the watchlist ---
    alert_resolve_after_s: float = Field(
        default=15 * 60.0,
        gt=0,
        description="an open alert resolves once its detector stayed normal this long (event time)",
    )
    watchlist: Path = Field(
        default=Path(__file__).resolve().parents[1] / "deploy" / "watchlist.toml",
        description="the TOML file that seeds the watchlist in SQL, once, and tags while SQL is away at start",
    )
    watchlist_refresh_s: float = Field(
        default=15.0,
        gt=0,
        description="how often workers re-read the watchlist from SQL (a change reaches them within this)",
    )
    entity_quota_per_source: int = Field(
        default=1000,
        ge=0,
        description="entities off the watchlist one source may introduce per UTC day; beyond, they are dropped from "
        "their events (which still count under their other entities): each costs buckets, rollups and a detector "
        "for days. 0 admits watchlist entities only",
    )

    # --- inference (Triton) ---
    triton_grpc_url: str = Field(default="127.0.0.1:8001", description="Triton's gRPC endpoint, host:port")
    model_name: str = Field(
        default="sentiment", description="Triton model for English and every language without a model of its own"
    )
    model_name_zh: str = Field(
        default="sentiment_zh", description="Triton model for Chinese: a (target, text) pair model, per entity"
    )
    inference_timeout_s: float = Field(default=10.0, gt=0, description="deadline of one Triton request")
    max_batch_size: int = Field(default=64, ge=1, description="events per Triton request")
    batch_window_ms: float = Field(default=5.0, ge=0, description="how long a micro-batch waits to fill")
    score_concurrency: int = Field(
        default=4,
        ge=1,
        description="Triton requests in flight per batch: the score agent takes max_batch_size x this and sends them "
        "as that many concurrent requests (bench.pipeline: 4 beat 2)",
    )

    # --- processes: metrics, logs, stopping ---
    metrics_host: str = Field(
        default="127.0.0.1",
        description="where workers and dispatchers serve /metrics: loopback on a laptop, 0.0.0.0 in compose and "
        "Kubernetes",
    )
    worker_metrics_port: int = Field(default=9108, description="a worker's /metrics (the next free port if taken)")
    dispatcher_metrics_port: int = Field(default=9109, description="the dispatcher's /metrics")
    worker_stop_grace_s: float = Field(
        default=8.0,
        gt=0,
        description="on SIGTERM or Ctrl-C a worker gets this long to stop cleanly, then exits anyway (offsets not "
        "committed are consumed again: nothing is lost); a Kubernetes rollout's grace period is 30 s",
    )
    var_dir: Path = Field(
        default=Path("var"), description="where processes write their logs, and the local stack its data"
    )

    # --- API ---
    api_host: str = Field(default="127.0.0.1", description="the API's bind address")
    api_port: int = Field(default=8080, description="the API's port")
    public_url: str | None = Field(
        default=None,
        description="where people reach the API and dashboard, for the links in alerts (the bind address, 0.0.0.0 "
        "in compose and Kubernetes, is no link); unset: http://<api_host>:<api_port>, loopback for 0.0.0.0",
    )
    api_token: SecretStr = Field(
        default=SecretStr("dev-ingest-token"), description="bearer token to ingest and change things (set a real one)"
    )
    api_read_token: SecretStr = Field(
        default=SecretStr("dev-read-token"), description="bearer token to read alerts and series (set a real one)"
    )
    ingest_max_body_bytes: int = Field(default=5 * 1024 * 1024, description="POST /v1/events body cap (413 beyond)")
    api_max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="every other route's body cap (watchlist, ack; 413 beyond)"
    )
    ingest_max_records: int = Field(default=1000, ge=1, description="records per ingest request (413 beyond)")
    ingest_kafka_timeout_s: float = Field(
        default=10.0, gt=0, description="how long ingest waits on Kafka before answering 503 with Retry-After"
    )

    # --- webhooks ---
    webhook_allow_private: bool = Field(
        default=False, description="let every subscription reach loopback, private and other non-global addresses"
    )
    secrets_keys: SecretStr | None = Field(
        default=None,
        description="Fernet keys sealing webhook secrets at rest, comma-separated, newest first "
        "(storage/secret_box.py); unset: secrets are stored in plain text (the local stack)",
    )

    # --- Alertmanager: the dispatcher pushes alerts to its API v2 when a URL is set ---
    alertmanager_url: str | None = Field(
        default=None, description="Alertmanager's base URL, e.g. http://127.0.0.1:9094; unset: no push"
    )
    alertmanager_resend_s: float = Field(
        default=60.0, gt=0, description="firing alerts are re-sent this often, endsAt 4 intervals ahead"
    )
    alertmanager_resolved_for_s: float = Field(default=300.0, ge=0, description="a resolution is re-sent this long")

    # --- retention ---
    retention_days: float = Field(
        default=0.0,
        ge=0,
        description="dispatchers prune minute rollups, finished deliveries and resolved alerts' quoted texts older "
        "than this, hourly; 0 keeps everything",
    )

    # ===== local stack, training and benchmarks: `radar stack`, `radar model`, bench/ (never deployed) =====
    postgres_url: str = _local(
        "postgresql+psycopg://radar:radar@127.0.0.1:5432/radar",
        "the local PostgreSQL, for `radar stack` and the tests and benchmarks that need one",
    )
    kafka_version: str = _local("4.1.1", "the Apache Kafka release `radar stack` resolves from Maven Central")
    kafka_controller_port: int = _local(9093, "the local Kafka's KRaft controller port")
    triton_http_port: int = _local(8000, "the local Triton's HTTP port (its readiness check)")
    triton_metrics_port: int = _local(8002, "the local Triton's metrics port")
    triton_tiny_only: bool = _local(
        False, "the local Triton serves the tiny test models only (the fault tests' stack: it restarts in seconds)"
    )
    local_alertmanager_port: int = _local(
        9094, "the local Alertmanager (`radar stack up --alertmanager`; 9093, its default, is Kafka's controller)"
    )
    local_prometheus_port: int = _local(9095, "the local Prometheus (`radar stack up --prometheus`)")
    cache_dir: Path = _local(
        Path.home() / ".cache" / "opinion-radar",
        "heavy artefacts kept outside the clone: downloads, trained models, the pointer to the one to serve",
    )
    model_dir: Path | None = _local(
        None, "the model the local Triton serves; unset: the last one exported, else the tiny test model"
    )

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


def local_stack_fields() -> list[str]:
    """The settings only the local stack, training and the benchmarks read (deploy/ sets none of them)."""
    return [
        name
        for name, field in Settings.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("local_stack")
    ]


def _port(hostport: str, default: int) -> int:
    _, _, port = hostport.rpartition(":")
    return int(port) if port.isdigit() else default
