"""Search-space files: YAML → a validated SearchSpace (parse.py validates); every error is one
line naming the file, the key and the bad value.

Sections: ``model``, ``train`` and ``detector`` (each key fixed or searched; ``detector`` only
with a detection dataset), ``data`` (fixed), ``objectives``
(metric: maximize|minimize), ``budget`` (metric: upper limit), ``study`` (defaults for a run)
and ``measure`` (how costs are measured: ``ort_threads`` for ``latency_ort``).
A searched value is ``{choices: [...]}`` or ``{low: a, high: b[, step: s][, log: true]}``; a
per-stage model key may also be a list with one fixed or searched value per stage.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from cspsearch.errors import SpaceError
from cspsearch.space.configs import STUDY_KEYS
from cspsearch.space.parse import check_task
from cspsearch.space.parse import parse_fixed
from cspsearch.space.parse import parse_space
from cspsearch.space.rules import RULES
from cspsearch.space.searchspace import SearchSpace


def bundled_dir() -> Path:
    """The folder of bundled space files (inside the package when installed as a wheel)."""
    package = Path(__file__).parents[1]
    inside = package / "search_spaces"
    return inside if inside.is_dir() else package.parent / "search_spaces"


def bundled_spaces() -> dict[str, Path]:
    """Bundled space name → file."""
    return {p.stem: p for p in sorted(bundled_dir().glob("*.yaml"))}


def load_space(name_or_path: str | Path) -> SearchSpace:
    """Load a bundled space by name, or a space file by path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        bundled = bundled_spaces()
        if str(name_or_path) not in bundled:
            raise SpaceError(
                f"unknown space {str(name_or_path)!r}: not a file and not a bundled space "
                f"(bundled: {', '.join(bundled) or 'none'})"
            )
        path = bundled[str(name_or_path)]
    if not path.is_file():
        raise SpaceError(f"{path}: no such space file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpaceError(f"{path}: invalid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpaceError(f"{path}: cannot read: {exc}") from None
    return parse_space(raw, source=str(path), name=path.stem)


def override_train(space: SearchSpace, **values: Any) -> SearchSpace:
    """A copy of ``space`` with training values fixed (e.g. --epochs from the CLI), validated."""
    train = dict(space.train)
    for key, value in values.items():
        train[key] = parse_fixed(space.source, f"train.{key}", value, RULES["train"][key])
    return dataclasses.replace(space, train=train)


def override_data(space: SearchSpace, spec: str) -> SearchSpace:
    """A copy of ``space`` reading the dataset ``NAME[:PATH]`` (``--data``), validated."""
    name, _, path = spec.partition(":")
    values = {
        "dataset": parse_fixed("--data", "data.dataset", name, RULES["data"]["dataset"]),
        "path": path,
    }
    space = dataclasses.replace(space, data=dataclasses.replace(space.data, **values))
    check_task(space)  # e.g. a classification space cannot read a detection dataset
    return space


def space_from_dict(stored: dict[str, Any]) -> SearchSpace:
    """Rebuild a space from ``SearchSpace.to_dict()`` (stored with each study), validated."""
    raw = {k: stored[k] for k in ("description", "model", "train", "objectives", "budget")}
    raw["detector"] = stored.get("detector", {})
    raw["measure"] = stored.get("measure", {})
    raw["data"] = stored["data"]
    raw["study"] = {k: stored[k] for k in STUDY_KEYS if stored.get(k) is not None}
    return parse_space(raw, source=stored["source"], name=stored["name"])


__all__ = [
    "bundled_dir",
    "bundled_spaces",
    "load_space",
    "override_data",
    "override_train",
    "parse_space",
    "space_from_dict",
]
