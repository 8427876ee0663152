"""Every repository file that a docstring, comment or document names exists.

A module moves or a note is deleted, and the prose that pointed at it goes on sending readers nowhere. The modules
and documents of the repository are read as text; every mention shaped like a relative path with a file ending
(``stream/closer.py``, ``docs/sql.md``) must name a file of this repository, and no document, docstring or comment
may point out of it (``../elsewhere/data``: a clone has nothing there; hostile test inputs such as ``../../etc``
are strings, not prose). Other paths outside the repository are allowed only where listed below, each with the
reason it is not in it.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READ = ["core", "storage", "inference", "stream", "localdev", "services", "bench", "tests", "docs"]
ENDINGS = "py|md|lua|toml|ya?ml|json|sh|mako|properties|xml|html|txt|csv|sql|cfg|ini|png|onnx|pbtxt"
# a relative path (a parent folder at least) with a file ending, not inside a URL, an absolute path or a dotted name
MENTION = re.compile(rf"(?<![\w./:@~$-])((?:\.\./)*[A-Za-z_][\w.-]*(?:/[\w.-]+)+\.(?:{ENDINGS}))(?![\w/])")
# a path that leaves the repository for a folder beside it (``../../etc``, a hostile input's path, is no such)
OUTSIDE = re.compile(r"(?<![\w./:@~$-])(\.\./(?!\.)[\w.-]*[\w-](?:/[\w.-]*[\w-])*)")

# written at run time, never committed (.gitignore)
GENERATED = {
    "var/": "what the local stack, the demo and the commands write",
    "reports/": "what the benchmarks and `radar model evaluate` write",
}
# paths in other folders' layouts, outside the repository
EXTERNAL = {
    "labels/combined_windows.json": "NAB's labels, read from $NAB_DIR (github.com/numenta/NAB)",
    "backends/python/triton_python_backend_utils.py": "Triton's server layout, copied from the nvidia-pytriton wheel",
}


def mentions(text: str, prose: set[int] | None = None) -> list[tuple[int, str]]:
    """(line, path) of every file-shaped mention in ``text``, and of every path leading out of the repository on
    the lines of ``prose`` (every line when None)."""
    found = []
    for n, line in enumerate(text.splitlines(), 1):
        files = [m.group(1) for m in MENTION.finditer(line)]
        found += [(n, path) for path in files]
        if prose is None or n in prose:
            outside = [m.group(1) for m in OUTSIDE.finditer(line)]
            found += [(n, path) for path in outside if not any(f.startswith(path) for f in files)]
    return found


def prose_lines(source: str) -> set[int]:
    """The lines of a module's docstrings and comments."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            lines.add(token.start[0])
    return lines


def allowed(path: str) -> bool:
    if path.startswith("../"):
        return False
    return (ROOT / path).is_file() or path in EXTERNAL or path.startswith(tuple(GENERATED))


def sources() -> list[Path]:
    """The repository's modules and documents (this test's own examples aside)."""
    found = [ROOT / "README.md", ROOT / "conftest.py"]
    for folder in READ:
        found += [p for p in sorted((ROOT / folder).rglob("*")) if p.suffix in (".py", ".md")]
    return [p for p in found if p != Path(__file__).resolve()]


def test_the_reader_finds_paths_and_passes_over_urls_and_names() -> None:
    text = (
        "see `stream/closer.py` and docs/sql.md.\n"
        "laid out as in ../shared/notes/triton.md, https://example.com/a/b.py, /etc/x/y.conf\n"
        "the module stream.closer, a file closer.py, sqlite:///var/radar.db, data/<category>/*.csv\n"
        "NAB_DIR=../shared/data/nab-dev\n"
    )
    assert mentions(text) == [
        (1, "stream/closer.py"),
        (1, "docs/sql.md"),
        (2, "../shared/notes/triton.md"),
        (4, "../shared/data/nab-dev"),
    ]
    assert allowed("stream/closer.py") and allowed("var/demo-summary.json")
    assert not allowed("../shared/notes/triton.md") and not allowed("stream/gone.py") and not allowed("../x")


def test_only_prose_is_read_for_paths_out_of_the_repository() -> None:
    module = '"""Reads ../shared/data/nab-dev."""\n\nHOSTILE = "../../etc"  # see ../notes\n'
    assert mentions(module, prose_lines(module)) == [(1, "../shared/data/nab-dev"), (3, "../notes")]


@pytest.mark.parametrize("listed", sorted(EXTERNAL))
def test_the_external_paths_are_not_in_the_repository(listed: str) -> None:
    assert not (ROOT / listed).exists(), f"{listed} is in the repository now: take it off EXTERNAL"


def test_every_file_named_in_the_code_and_the_docs_exists() -> None:
    missing = [
        f"{source.relative_to(ROOT)}:{line}: {path}"
        for source in sources()
        for text in [source.read_text(encoding="utf-8")]
        for line, path in mentions(text, prose_lines(text) if source.suffix == ".py" else None)
        if not allowed(path)
    ]
    assert not missing, "files named that the repository does not have:\n" + "\n".join(missing)
