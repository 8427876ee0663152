"""The local stack's generated arguments and configuration: loopback only, passwords on TCP, no secret in argv.

These check what ``radar stack up`` would run without running it; the listeners themselves were checked with
``ss -ltnp`` on a second stack (see the report of issue 14) and are re-checked by anyone with ``radar stack up``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.errors import StackError
from core.settings import Settings
from localdev.stack import SERVICES
from localdev.stack import kafka as kafka_module
from localdev.stack.base import LOOPBACK
from localdev.stack.kafka import KafkaService, listener_hosts
from localdev.stack.postgres import PostgresService, hba_conf, ident_conf, role_sql
from localdev.stack.redis_server import RedisService
from localdev.stack.triton import TritonService

SECRET = "s3cr3t-Pa55'word"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        postgres_url="postgresql+psycopg://radar:s3cr3t-Pa55%27word@127.0.0.1:15432/radar",
        redis_url="redis://127.0.0.1:16379/0",
        kafka_bootstrap_servers="127.0.0.1:19092",
        kafka_controller_port=19093,
        triton_grpc_url="127.0.0.1:18001",
        triton_http_port=18000,
        triton_metrics_port=18002,
    )


def _postgres_argv(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr("localdev.stack.postgres._bin_dir", lambda: Path("/usr/lib/postgresql/15/bin"))
    return PostgresService(settings).argv()


def test_triton_binds_every_endpoint_to_loopback(settings: Settings) -> None:
    argv = TritonService(settings).argv()
    for endpoint in ("http", "grpc", "metrics"):
        assert f"--{endpoint}-address={LOOPBACK}" in argv
    assert "--http-port=18000" in argv and "--grpc-port=18001" in argv and "--metrics-port=18002" in argv


def test_redis_binds_to_loopback_in_protected_mode(settings: Settings) -> None:
    argv = RedisService(settings).argv()
    assert argv[argv.index("--bind") + 1] == LOOPBACK
    assert argv[argv.index("--protected-mode") + 1] == "yes"
    assert argv[argv.index("--port") + 1] == "16379"


def test_kafka_listeners_and_controller_are_on_loopback(settings: Settings) -> None:
    text = KafkaService(settings).render_config()
    assert listener_hosts(text) == {LOOPBACK}
    assert f"CONTROLLER://{LOOPBACK}:19093" in text and f"PLAINTEXT://{LOOPBACK}:19092" in text
    assert f"controller.quorum.bootstrap.servers={LOOPBACK}:19093" in text


@pytest.mark.parametrize("listeners", ["PLAINTEXT://:9092", "PLAINTEXT://0.0.0.0:9092", "PLAINTEXT://[::]:9092"])
def test_kafka_refuses_a_template_listening_beyond_loopback(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listeners: str
) -> None:
    template = tmp_path / "server.properties"
    template.write_text(f"listeners={listeners},CONTROLLER://127.0.0.1:${{controller_port}}\nlog.dirs=${{data_dir}}\n")
    monkeypatch.setattr(kafka_module, "TEMPLATE", template)
    with pytest.raises(StackError, match="must bind every listener"):
        KafkaService(settings).render_config()


def test_postgres_listens_on_loopback_and_stores_scram(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = _postgres_argv(settings, monkeypatch)
    assert f"listen_addresses={LOOPBACK}" in argv and "password_encryption=scram-sha-256" in argv
    assert argv[argv.index("-p") + 1] == "15432"


def test_pg_hba_has_no_trust_and_passwords_on_tcp() -> None:
    rules = [line.split() for line in hba_conf().splitlines() if line.strip() and not line.startswith("#")]
    assert "trust" not in hba_conf()
    assert rules == [
        ["local", "all", "all", "peer", "map=radar"],
        ["host", "all", "all", "127.0.0.1/32", "scram-sha-256"],
        ["host", "all", "all", "::1/128", "scram-sha-256"],
    ]


def test_pg_ident_maps_only_the_owner_to_the_superuser() -> None:
    rules = [line.split() for line in ident_conf("postgres").splitlines() if not line.startswith("#")]
    assert rules == [["radar", "postgres", "postgres"], ["radar", "/^(.*)$", "\\1"]]
    with pytest.raises(StackError):
        ident_conf("two words")


def test_role_sql_quotes_the_password_and_silences_statement_logging() -> None:
    sql = role_sql("radar", SECRET)
    assert "PASSWORD 's3cr3t-Pa55''word'" in sql
    assert sql.index("log_statement = 'none'") < sql.index("PASSWORD")
    assert sql.startswith("\\set VERBOSITY terse")  # psql's errors then quote no statement
    for bad_user, password in (("radar; DROP", SECRET), ("radar", ""), ("radar", "a\x00b")):
        with pytest.raises(StackError):
            role_sql(bad_user, password)


def test_no_secret_in_any_service_argv(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("localdev.stack.postgres._bin_dir", lambda: Path("/usr/lib/postgresql/15/bin"))
    for name, cls in SERVICES.items():
        argv = " ".join(cls(settings).argv())
        assert SECRET not in argv and "s3cr3t" not in argv, name
    assert "s3cr3t" not in " ".join(PostgresService(settings).psql_argv())


def test_role_password_goes_to_psql_on_stdin_only(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("localdev.stack.postgres._bin_dir", lambda: Path("/usr/lib/postgresql/15/bin"))
    monkeypatch.setenv("RADAR_POSTGRES_URL", settings.postgres_url)
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    calls: list[dict[str, Any]] = []

    def fake_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append({"argv": argv, **kwargs})
        return subprocess.CompletedProcess(argv, 0, stdout="1\n", stderr="")

    monkeypatch.setattr("localdev.stack.postgres.subprocess.run", fake_run)
    PostgresService(settings).after_ready()
    assert calls and all("s3cr3t" not in " ".join(call["argv"]) for call in calls)
    assert any("s3cr3t" in call["input"] for call in calls)
    for call in calls:  # neither the URL with the password nor a PGPASSWORD reaches the tools
        assert not any(key.startswith(("RADAR_", "PG")) for key in call["env"])


def test_psql_errors_are_redacted(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("localdev.stack.postgres._bin_dir", lambda: Path("/usr/lib/postgresql/15/bin"))

    def failing_run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(argv, 3, stdout="", stderr=f"ERROR: near '{SECRET}'")

    monkeypatch.setattr("localdev.stack.postgres.subprocess.run", failing_run)
    with pytest.raises(StackError) as info:
        PostgresService(settings).after_ready()
    assert "s3cr3t" not in str(info.value) and "***" in str(info.value)


def test_prepare_migrates_an_old_trust_cluster(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A data dir initialised by an older stack (``trust`` on the socket) keeps its data, loses the trust."""
    monkeypatch.setattr("localdev.stack.postgres._bin_dir", lambda: Path("/usr/lib/postgresql/15/bin"))
    service = PostgresService(settings)
    service.data_dir.mkdir(parents=True)
    (service.data_dir / "PG_VERSION").write_text("15\n")
    (service.data_dir / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    (service.data_dir / "base").mkdir()
    service.prepare()
    hba = service.data_dir / "pg_hba.conf"
    assert hba.read_text() == hba_conf() and "trust" not in hba.read_text()
    assert (service.data_dir / "pg_ident.conf").read_text() == ident_conf(service.owner())
    assert (service.data_dir / "base").is_dir()  # the data stay
    for path in (hba, service.data_dir / "pg_ident.conf"):
        assert path.stat().st_mode & 0o777 == 0o600
        assert path.stat().st_uid == os.stat(service.data_dir).st_uid  # owned by the cluster's owner
    assert service.socket_dir.stat().st_mode & 0o777 == 0o700


def test_a_tiny_only_triton_serves_a_repository_of_the_two_tiny_models(settings: Settings) -> None:
    """The fault tests' stack: a restart loads two tiny models, not the served ones (4-5 s less a start here)."""
    from inference.model_store import TINY_MODEL_NAME, TINY_ZH_MODEL_NAME

    triton = TritonService(settings.model_copy(update={"triton_tiny_only": True}))
    triton.prepare()
    assert triton.repository.name == "models-tiny"
    assert sorted(p.name for p in triton.repository.iterdir()) == sorted([TINY_MODEL_NAME, TINY_ZH_MODEL_NAME])
    assert f"--model-repository={triton.repository}" in triton.argv()
    assert TritonService(settings).repository.name == "models"
