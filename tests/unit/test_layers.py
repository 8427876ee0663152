"""Imports run one way: ``services -> localdev -> stream -> inference, storage -> core``.

Every module of the runtime packages is read with ``ast``, imports inside functions included (a lazy import is
still a dependency), and each import of another runtime package must point down the stack.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# what each package may import besides itself
ALLOWED = {
    "core": set(),
    "storage": {"core"},
    "inference": {"core"},
    "stream": {"core", "storage", "inference"},
    "localdev": {"core", "storage", "inference", "stream"},
    "services": {"core", "storage", "inference", "stream", "localdev"},
}
# local tooling is reached only through the command line, never from a deployed process
ONLY_FROM = {"localdev": "services/cli"}


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in the module, lazy ones too; relative imports stay inside."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def test_the_reader_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    from services.settings import X\n    import stream.detect\n")
    assert imported_packages(module) == [(1, "os"), (4, "services"), (5, "stream")]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    upward = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts and "versions" in path.parts:
            continue
        for line, imported in imported_packages(path):
            where = path.relative_to(ROOT)
            if imported in ALLOWED and imported != package and imported not in ALLOWED[package]:
                upward.append(f"{where}:{line} imports {imported}")
            elif imported in ONLY_FROM and imported != package and not str(where).startswith(ONLY_FROM[imported]):
                upward.append(f"{where}:{line} imports {imported} (only {ONLY_FROM[imported]} may)")
    assert not upward, "imports running back up:\n" + "\n".join(upward)
