"""``radar entities add | list | remove | import`` with typer's CliRunner on a temporary SQLite database: the first
command seeds the watchlist from RADAR_WATCHLIST; exit 2 for usage errors, 1 for runtime ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core.errors import ConfigError, NotFound, StorageError
from services.cli import app
from storage.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[2]
SEED = '[[entity]]\nid = "ACME"\nnames = ["Acme"]\ncashtags = ["ACME"]\n\n[[entity]]\nid = "GLBX"\nnames = ["Globex"]\n'


@pytest.fixture
def radar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    seed = tmp_path / "watchlist.toml"
    seed.write_text(SEED)
    monkeypatch.setenv("RADAR_DATABASE_URL", url)
    monkeypatch.setenv("RADAR_WATCHLIST", str(seed))
    monkeypatch.setenv("RADAR_VAR_DIR", str(tmp_path / "var"))
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["entities", *args])


def _flat(output: str) -> str:
    """The console's output without the line breaks rich wraps it with."""
    return " ".join(output.split())


def _listed(radar: Any) -> dict[str, dict[str, Any]]:
    result = radar("list", "--json")
    assert result.exit_code == 0, result.output
    return {e["id"]: e for e in json.loads(result.output)}


def test_the_first_command_seeds_and_add_list_remove_work(radar: Any) -> None:
    assert set(_listed(radar)) == {"ACME", "GLBX"}
    names = ["--name", "Zorgon Systems", "--name", "Zorgon", "--alias", "Zorg", "--cashtag", "$ZRG"]
    added = radar("add", "ZORG", *names, "--min-severity", "high")
    assert added.exit_code == 0 and "ZORG: created" in added.output, added.output
    zorg = _listed(radar)["ZORG"]
    assert zorg["names"] == ["Zorgon Systems", "Zorgon"] and zorg["aliases"] == ["Zorg"]
    assert zorg["cashtags"] == ["ZRG"] and zorg["min_severity"] == "high" and zorg["updated_at"]
    again = radar("add", "ZORG", "--name", "Zorgon")
    assert again.exit_code == 0 and "ZORG: updated" in again.output
    assert _listed(radar)["ZORG"]["min_severity"] == "info"
    assert radar("remove", "ZORG").exit_code == 0
    assert "ZORG" not in _listed(radar)
    table = radar("list")
    assert table.exit_code == 0 and "Globex" in table.output


def test_removing_everything_does_not_seed_again(radar: Any) -> None:
    for entity_id in ("ACME", "GLBX"):
        assert radar("remove", entity_id).exit_code == 0
    assert _listed(radar) == {}


@pytest.mark.parametrize(
    "args",
    [
        ["add", "bad id", "--name", "X"],
        ["add", "../etc", "--name", "X"],
        ["add", "OK"],  # no --name
        ["add", "OK", "--name", "  "],
        ["add", "OK", "--name", "a\x00b"],
        ["add", "OK", "--name", "X", "--cashtag", "$ $"],
        ["add", "OK", "--name", "X", "--min-severity", "loud"],
        ["list", "--format", "x"],
    ],
)
def test_usage_errors_exit_2(radar: Any, args: list[str]) -> None:
    result = radar(*args)
    assert result.exit_code == 2, result.output
    assert "OK" not in _listed(radar)


def test_removing_an_unknown_entity_exits_1(radar: Any) -> None:
    result = radar("remove", "NOPE")
    assert result.exit_code == 1 and isinstance(result.exception, NotFound)
    assert "no watched entity 'NOPE'" in str(result.exception)


def test_import_upserts_the_files_entities(radar: Any, tmp_path: Path) -> None:
    file = tmp_path / "more.toml"
    file.write_text(
        '[[entity]]\nid = "ACME"\nnames = ["Acme"]\ncashtags = ["ACME"]\nmin_severity = "critical"\n\n'
        '[[entity]]\nid = "GLBX"\nnames = ["Globex"]\n\n'
        '[[entity]]\nid = "ZORG"\nnames = ["Zorgon"]\n'
    )
    result = radar("import", str(file))
    assert result.exit_code == 0 and "1 created, 1 updated, 1 unchanged" in _flat(result.output), result.output
    listed = _listed(radar)
    assert set(listed) == {"ACME", "GLBX", "ZORG"} and listed["ACME"]["min_severity"] == "critical"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[[entity]\nid=", "not valid TOML"),
        ('[[entity]]\nid = "A B"\nnames = ["A"]\n', "entity #1 ('A B'): id"),
        ('[[entity]]\nid = "A"\nnames = []\n', "names"),
        ('[[entity]]\nid = "A"\nnames = ["A"]\n\n[[entity]]\nid = "A"\nnames = ["B"]\n', "appears twice"),
        ('[[entity]]\nid = "A"\nname = ["A"]\n', "name"),  # a typo is not silently ignored
        (None, "cannot read"),
    ],
)
def test_an_import_file_that_is_not_a_watchlist_exits_1(
    radar: Any, tmp_path: Path, content: str | None, fragment: str
) -> None:
    file = tmp_path / "bad.toml"
    if content is not None:
        file.write_text(content)
    result = radar("import", str(file))
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError), result.output
    assert fragment in str(result.exception)
    assert set(_listed(radar)) == {"ACME", "GLBX"}  # nothing imported


def test_a_database_behind_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, revision="0003")
    engine.dispose()
    monkeypatch.setenv("RADAR_DATABASE_URL", url)
    monkeypatch.setenv("RADAR_VAR_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["entities", "list"])
    assert result.exit_code == 1 and isinstance(result.exception, StorageError)
    assert "radar db upgrade" in str(result.exception)


def test_the_radar_command_exits_2_for_usage_and_1_for_runtime_errors(tmp_path: Path) -> None:
    """Through ``main`` (what the ``radar`` script runs), which maps RadarError to exit 1."""
    url = f"sqlite:///{tmp_path / 'radar.db'}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RADAR_DATABASE_URL": url}
    env |= {"RADAR_VAR_DIR": str(tmp_path / "var"), "RADAR_WATCHLIST": str(tmp_path / "none.toml")}

    def radar(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "services.cli", "entities", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert radar("add", "bad id", "--name", "X").returncode == 2
    missing = radar("remove", "NOPE")  # the empty SQLite file is created at head (zero-config), nothing seeded
    assert missing.returncode == 1 and "no watched entity 'NOPE'" in missing.stdout, missing.stdout + missing.stderr
    assert radar("add", "OK", "--name", "Okay").returncode == 0
    assert json.loads(radar("list", "--json").stdout)[0]["id"] == "OK"


def test_chinese_names_and_market_codes_are_added_and_listed(radar: Any) -> None:
    added = radar("add", "MOUTAI", "--name", "贵州茅台", "--alias", "茅台", "--cashtag", "600519.SH")
    assert added.exit_code == 0, added.output
    moutai = _listed(radar)["MOUTAI"]
    assert (moutai["names"], moutai["aliases"], moutai["cashtags"]) == (["贵州茅台"], ["茅台"], ["600519.SH"])
    assert "贵州茅台" in radar("list").output


def test_names_that_look_like_rich_markup_list_as_text(radar: Any) -> None:
    assert radar("add", "BRKT", "--name", "[/x] Holdings", "--alias", "[bold]").exit_code == 0
    listed = radar("list")
    assert listed.exit_code == 0, listed.output
    assert "[/x] Holdings" in _flat(listed.output) and "[bold]" in listed.output
