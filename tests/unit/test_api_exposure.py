"""`radar api` refuses to listen beyond loopback with a token anybody can read in this repository."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from services.cli import app

STRONG = "x" * 24
runner = CliRunner()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """uvicorn.run replaced: a test sees whether the API would have started, and with what, without a server."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: calls.append(kwargs))
    for name in ("RADAR_API_TOKEN", "RADAR_API_READ_TOKEN", "RADAR_API_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no .env of the developer's in the way
    return calls


@pytest.mark.parametrize(
    ("env", "variable", "why"),
    [
        ({}, "RADAR_API_TOKEN", "is the published default"),
        ({"RADAR_API_TOKEN": STRONG}, "RADAR_API_READ_TOKEN", "is the published default"),
        (
            {"RADAR_API_TOKEN": "short-but-not-default", "RADAR_API_READ_TOKEN": STRONG},
            "RADAR_API_TOKEN",
            "is 21 characters long",
        ),
        (
            {"RADAR_API_TOKEN": STRONG, "RADAR_API_READ_TOKEN": "change-me-too"},
            "RADAR_API_READ_TOKEN",
            "is 13 characters long",
        ),
    ],
)
def test_refuses_a_public_host_with_a_weak_token(served, env, variable, why) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["api", "--host", "0.0.0.0"], env=env)
    assert result.exit_code == 1
    message = result.stderr.strip()
    assert "\n" not in message and message.startswith("error: refusing to serve on 0.0.0.0")
    assert f"{variable} {why}" in message and f"set {variable} to a secret of at least 24" in message
    assert served == []


def test_the_host_setting_is_checked_like_the_option(served) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["api"], env={"RADAR_API_HOST": "::"})
    assert result.exit_code == 1 and "refusing to serve on ::" in result.stderr and served == []


def test_loopback_serves_with_the_dev_tokens_and_a_public_host_with_strong_ones(served) -> None:  # type: ignore[no-untyped-def]
    assert runner.invoke(app, ["api"]).exit_code == 0
    assert runner.invoke(app, ["api", "--host", "::1", "--port", "9"]).exit_code == 0
    strong = {"RADAR_API_TOKEN": STRONG, "RADAR_API_READ_TOKEN": "y" * 32}
    assert runner.invoke(app, ["api", "--host", "0.0.0.0"], env=strong).exit_code == 0
    assert [(c["host"], c["port"]) for c in served] == [("127.0.0.1", 8080), ("::1", 9), ("0.0.0.0", 8080)]


def test_equal_read_and_write_tokens_are_refused_even_on_loopback(served) -> None:  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["api"], env={"RADAR_API_TOKEN": STRONG, "RADAR_API_READ_TOKEN": STRONG})
    assert result.exit_code == 1 and "are the same: a reader could write" in result.stderr and served == []


def test_the_uvicorn_factory_checks_as_the_command_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.errors import ConfigError
    from services.api.app import create_app_from_env

    monkeypatch.chdir("/")
    monkeypatch.delenv("RADAR_API_TOKEN", raising=False)
    monkeypatch.delenv("RADAR_API_READ_TOKEN", raising=False)
    monkeypatch.setenv("RADAR_API_HOST", "0.0.0.0")
    with pytest.raises(ConfigError, match="published default"):
        create_app_from_env()
    monkeypatch.setenv("RADAR_API_HOST", "127.0.0.1")
    assert create_app_from_env() is not None


def test_links_in_alerts_use_the_public_url_never_the_bind_address() -> None:
    from core.settings import Settings

    assert Settings(api_host="0.0.0.0", api_port=8080).api_public_url == "http://127.0.0.1:8080"
    assert Settings(api_host="10.0.0.5", api_port=9000).api_public_url == "http://10.0.0.5:9000"
    public = Settings(api_host="0.0.0.0", public_url="https://radar.example.com/")
    assert public.api_public_url == "https://radar.example.com"
