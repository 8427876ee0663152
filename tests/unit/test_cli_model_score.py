"""``radar model score``: offline batch scoring of a CSV with the served runtime (here the tiny model): each row
keeps its columns and gains probabilities, lang and model, or an error; a file without ``text`` is a usage error."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import Settings
from inference.model_store import tiny_model_dir
from services.cli import app


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return tiny_model_dir(Settings(cache_dir=tmp_path / "cache"))


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_every_row_is_scored_or_says_why_not(tmp_path: Path, tiny: Path) -> None:
    rows = [
        {"id": "1", "text": "Acme beat estimates", "entity": "", "lang": ""},
        {"id": "2", "text": "贵州茅台股价大跌", "entity": "MOUTAI", "lang": ""},
        {"id": "3", "text": "", "entity": "", "lang": ""},
        {"id": "4", "text": "Acme a publié ses résultats", "entity": "", "lang": "fr"},
    ]
    out = tmp_path / "out.csv"
    args = ["model", "score", "-i", str(_write(tmp_path / "in.csv", rows)), "-o", str(out), "--model", str(tiny)]
    result = CliRunner().invoke(app, [*args, "--zh-model", str(tiny)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        scored = {r["id"]: r for r in csv.DictReader(handle)}
    for key in ("1", "2"):
        probs = [float(scored[key][c]) for c in ("negative", "neutral", "positive")]
        assert abs(sum(probs) - 1) < 1e-4 and scored[key]["model"] == tiny.name and not scored[key]["error"]
    assert (scored["1"]["lang"], scored["2"]["lang"], scored["2"]["entity"]) == ("en", "zh", "MOUTAI")
    assert (scored["3"]["error"], scored["3"]["negative"]) == ("no text", "")
    assert (scored["4"]["lang"], scored["4"]["error"]) == ("fr", "no model for lang fr")


def test_a_file_without_text_is_a_usage_error(tmp_path: Path, tiny: Path) -> None:
    path = _write(tmp_path / "in.csv", [{"id": "1", "body": "no text column"}])
    result = CliRunner().invoke(
        app, ["model", "score", "-i", str(path), "-o", str(tmp_path / "o.csv"), "--model", str(tiny)]
    )
    assert result.exit_code == 2
