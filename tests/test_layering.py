"""The package's shape: data flows one way, package by package, with no import cycle; the steps
before the model and the report never import torch; no module is over 250 lines."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "cspsearch"
# Each package may import itself and the ones before it, never a later one or a sibling.
LAYERS = [
    {"errors", "pareto", "stats", "compat"},  # leaves
    {"sequential"},  # on stats
    {"space"},
    {"models"},
    {"measure"},
    {"training"},
    {"classification", "detection"},  # the tasks
    {"trials"},
    {"report"},
    {"ablate"},  # the controlled experiment: it uses the search report's pieces
    {"bench"},
    {"cli"},
]
TORCH_FREE = [  # modules that must not import torch or fvcore, directly or indirectly
    "cspsearch.errors",
    "cspsearch.pareto",
    "cspsearch.stats",
    "cspsearch.sequential",
    "cspsearch.compat",  # fvcore only inside the function that asks for its tables
    "cspsearch.space",
    "cspsearch.report",
    "cspsearch.ablate.grid",
    "cspsearch.ablate.csp_grid",
    "cspsearch.ablate.detector_grid",
    "cspsearch.ablate.read",
    "cspsearch.ablate.tables",
    "cspsearch.ablate.text",
    "cspsearch.ablate.figures",
    "cspsearch.ablate.page",
    "cspsearch.trials.study",
    "cspsearch.trials.samplers",
    "cspsearch.trials.run",
    "cspsearch.trials.execute",
    "cspsearch.trials.early_stop",
    "cspsearch.trials.progress",
    "cspsearch.cli",  # imports the heavy modules inside its commands: a fast --help
    "cspsearch.detection.shapes",  # the data side of detection: numpy, Pillow and pycocotools
    "cspsearch.detection.coco",
    "cspsearch.detection.evaluate",
    "cspsearch.detection.anchors",
]
MAX_LINES = 250


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def imports(module: str, top_level_only: bool) -> frozenset[str]:
    """Every module ``module`` imports (inside functions too, unless ``top_level_only``)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            # ``from cspsearch.x import y`` may import the module cspsearch.x.y
            names |= {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
    return frozenset(names)


def internal(module: str, top_level_only: bool = False) -> set[str]:
    return {n for n in imports(module, top_level_only) if n in MODULES and n != module}


def package(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def layer(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if package(module) in names)


def test_every_package_has_a_layer() -> None:
    packages = {package(m) for m in MODULES} - {"", "__main__"}
    assert packages == set().union(*LAYERS)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (module → modules it imports) as a path, or None."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target, [*path, target])):
                return found
        state[module] = "done"
        return None

    for module in graph:
        if module not in state and (found := visit(module, [module])):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = find_cycle({m: internal(m) for m in MODULES})
    assert cycle is None, f"import cycle: {' → '.join(cycle or [])}"


def test_the_cycle_checker_finds_a_cycle_it_is_given() -> None:
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"x": {"x"}}) == ["x", "x"]


def test_the_layer_check_sees_a_later_import() -> None:
    assert layer("cspsearch.report.html") < layer("cspsearch.ablate.tables")
    assert layer("cspsearch.trials.run") > layer("cspsearch.space.loader")


@pytest.mark.parametrize("module", [m for m in MODULES if package(m) not in ("", "__main__")])
def test_imports_only_earlier_packages(module: str) -> None:
    for target in internal(module):
        if package(target) in ("", package(module)):
            continue
        assert layer(target) < layer(module), f"{module} imports the later {target}"


@pytest.mark.parametrize("root", TORCH_FREE)
def test_does_not_import_torch_even_indirectly(root: str) -> None:
    start = [m for m in MODULES if m == root or m.startswith(root + ".")]
    seen, todo = set(), list(start)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        # The CLI imports heavy modules inside its commands, on purpose; only module-level
        # imports count, here and in everything they reach.
        found = imports(module, top_level_only=True)
        heavy = {n for n in found if n.split(".")[0] in ("torch", "fvcore")}
        assert not heavy, f"{root} reaches {module}, which imports {heavy}"
        parents = {".".join(module.split(".")[:i]) for i in range(2, module.count(".") + 1)}
        todo += [n for n in found | parents if n in MODULES]


def test_a_cycle_or_a_late_import_would_be_found(tmp_path: Path) -> None:
    # The graph sees function-level imports too: the CLI reaches every step through them.
    assert "cspsearch.trials.run" in internal("cspsearch.cli.run")
    assert "cspsearch.trials.run" not in internal("cspsearch.cli.run", top_level_only=True)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_short(module: str) -> None:
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines (split it: modules ≤ {MAX_LINES})"
