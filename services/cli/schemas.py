"""``radar schemas [--check]``: the JSON Schemas of the public contracts, written from the domain types.

Generated, never edited by hand: a contract changes in ``core/`` and this command (``make schemas``) rewrites
``docs/schemas``; ``--check`` (and ``tests/unit/test_schemas.py``) fail while the files lag behind the types.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from core.schemas import schema_files

__all__ = ["DEFAULT_DIR", "schemas_cmd", "stale_schemas", "write_schemas"]

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"
console = Console()


def stale_schemas(directory: Path) -> list[str]:
    """The files of ``directory`` that differ from the generated ones: missing, outdated or no longer generated."""
    expected = schema_files()
    present = {path.name for path in directory.glob("*.json")} if directory.is_dir() else set()
    changed = [name for name, text in expected.items() if name not in present or _read(directory / name) != text]
    return sorted(changed + [name for name in present if name not in expected])


def write_schemas(directory: Path) -> list[str]:
    """Make ``directory`` hold exactly the generated schemas; returns the files written or removed."""
    stale = stale_schemas(directory)
    directory.mkdir(parents=True, exist_ok=True)
    expected = schema_files()
    for name in stale:
        if name in expected:
            (directory / name).write_text(expected[name], encoding="utf-8")
        else:
            (directory / name).unlink()
    return stale


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def schemas_cmd(
    check: Annotated[bool, typer.Option("--check", help="write nothing; exit 1 if the files are not current")] = False,
    directory: Annotated[Path, typer.Option("--dir", help="where the schemas live")] = DEFAULT_DIR,
) -> None:
    """Write the JSON Schemas of the raw event, scored event, alert and webhook payload to docs/schemas."""
    if check:
        stale = stale_schemas(directory)
        if stale:
            console.print(f"[red]not current in {directory}:[/] {', '.join(stale)} (run `radar schemas`)")
            raise typer.Exit(1)
        console.print(f"{directory}: current")
        return
    changed = write_schemas(directory)
    console.print(f"{directory}: {', '.join(changed) if changed else 'already current'}")
