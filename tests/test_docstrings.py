"""Where things are, as the code says it: every package's docstring names each of its modules,
and every ``something.py`` a docstring or comment cites is a file that exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "cspsearch"
PACKAGES = sorted(p.parent for p in PACKAGE.glob("*/__init__.py"))
# Files of other projects that the code cites by name (timm's cspnet.py).
EXTERNAL = {"cspnet.py"}
CITED = re.compile(r"(?<![\w.])([\w/]+\.py)\b")


@pytest.mark.parametrize("folder", PACKAGES, ids=lambda p: p.name)
def test_a_package_docstring_names_its_modules(folder: Path) -> None:
    doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"{folder.name}/__init__.py has no docstring"
    modules = {p.name for p in folder.glob("*.py")} - {"__init__.py"}
    assert {m for m in modules if m not in doc} == set()


FILES = [
    p.relative_to(PACKAGE.parent).as_posix()
    for p in PACKAGE.parent.rglob("*.py")
    if not any(part.startswith(".") for part in p.relative_to(PACKAGE.parent).parts)
]


def _exists(cited: str) -> bool:
    """A file of the repository ends with the cited path (``macs.py``, ``trials/run.py``)."""
    return cited.split("/")[-1] in EXTERNAL or any(
        f == cited or f.endswith("/" + cited) for f in FILES
    )


def test_every_cited_path_exists() -> None:
    stale = [
        f"{p.relative_to(PACKAGE.parent)}: {cited}"
        for p in sorted(PACKAGE.rglob("*.py"))
        for cited in CITED.findall(p.read_text(encoding="utf-8"))
        if not _exists(cited)
    ]
    assert stale == []
