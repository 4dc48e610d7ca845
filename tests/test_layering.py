"""Data flows one way: modules that come before the model, and the report, never import torch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "cspsearch"
TORCH_FREE = [
    "configs.py",
    "space.py",
    "space_file.py",
    "errors.py",
    "study.py",
    "console.py",
    "cli.py",
    "report",
    "detection/shapes.py",  # the data side of detection: numpy, Pillow and pycocotools only
    "detection/coco.py",
    "detection/evaluate.py",
    "detection/anchors.py",
]


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("entry", TORCH_FREE)
def test_module_does_not_import_torch_or_models(entry: str) -> None:
    target = PACKAGE / entry
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    for path in files:
        # The CLI imports heavy modules inside its commands, on purpose (a fast --help);
        # only its module-level imports must stay light.
        imports = _imports(path, top_level_only=path.name == "cli.py")
        bad = {
            n
            for n in imports
            if n.split(".")[0] in ("torch", "fvcore")
            or n.startswith(
                ("cspsearch.models", "cspsearch.train", "cspsearch.macs", "cspsearch.objective")
            )
        }
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"
