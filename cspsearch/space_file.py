"""Search-space files: YAML → a validated SearchSpace; every error is one line naming the file,
the key and the bad value.

Sections: ``model``, ``train`` and ``detector`` (each key fixed or searched; ``detector`` only
with a detection dataset), ``data`` (fixed), ``objectives``
(metric: maximize|minimize), ``budget`` (metric: upper limit) and ``study`` (defaults for a run).
A searched value is ``{choices: [...]}`` or ``{low: a, high: b[, step: s][, log: true]}``; a
per-stage model key may also be a list with one fixed or searched value per stage.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import yaml

from cspsearch.configs import DETECTION_DATASETS
from cspsearch.configs import PER_STAGE
from cspsearch.configs import RULES
from cspsearch.configs import DataConfig
from cspsearch.configs import ModelConfig
from cspsearch.configs import field_names
from cspsearch.errors import SpaceError
from cspsearch.space import BUDGETS
from cspsearch.space import OBJECTIVES
from cspsearch.space import SAMPLERS
from cspsearch.space import STUDY_KEYS
from cspsearch.space import TOP_KEYS
from cspsearch.space import Choice
from cspsearch.space import Range
from cspsearch.space import SearchSpace
from cspsearch.space import is_spec


def bundled_dir() -> Path:
    """The folder of bundled space files (inside the package when installed as a wheel)."""
    inside = Path(__file__).parent / "search_spaces"
    return inside if inside.is_dir() else Path(__file__).parent.parent / "search_spaces"


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
        train[key] = _parse_fixed(space.source, f"train.{key}", value, RULES["train"][key])
    return dataclasses.replace(space, train=train)


def override_data(space: SearchSpace, spec: str) -> SearchSpace:
    """A copy of ``space`` reading the dataset ``NAME[:PATH]`` (``--data``), validated."""
    name, _, path = spec.partition(":")
    values = {
        "dataset": _parse_fixed("--data", "data.dataset", name, RULES["data"]["dataset"]),
        "path": path,
    }
    space = dataclasses.replace(space, data=dataclasses.replace(space.data, **values))
    _check_task(space)  # e.g. a classification space cannot read a detection dataset
    return space


def space_from_dict(stored: dict[str, Any]) -> SearchSpace:
    """Rebuild a space from ``SearchSpace.to_dict()`` (stored with each study), validated."""
    raw = {k: stored[k] for k in ("description", "model", "train", "objectives", "budget")}
    raw["detector"] = stored.get("detector", {})
    raw["data"] = stored["data"]
    raw["study"] = {k: stored[k] for k in STUDY_KEYS if stored.get(k) is not None}
    return parse_space(raw, source=stored["source"], name=stored["name"])


def parse_space(raw: Any, source: str, name: str) -> SearchSpace:
    """Validate a parsed space file; raise SpaceError naming the first bad key."""
    if not isinstance(raw, dict):
        raise SpaceError(
            f"{source}: the file must be a mapping of sections ({', '.join(TOP_KEYS)})"
        )
    _check_keys(source, "", raw, TOP_KEYS)
    model = _parse_section(source, "model", raw.get("model", {}))
    stages = model.get("num_stages", ModelConfig.num_stages)
    for key, value in model.items():
        if isinstance(value, tuple) and (is_spec(stages) or len(value) != stages):
            raise SpaceError(
                f"{source}: model.{key}: {len(value)} per-stage values need a fixed "
                f"num_stages of {len(value)} (num_stages is {_show(stages)})"
            )
    study = _mapping(source, "study", raw.get("study", {}))
    _check_keys(source, "study.", study, STUDY_KEYS)
    data = DataConfig(**_parse_section(source, "data", raw.get("data", {}), fixed=True))
    detection = data.dataset in DETECTION_DATASETS
    default_score = "val_ap50" if detection else "val_accuracy"
    space = SearchSpace(
        name=name,
        source=source,
        description=str(raw.get("description", "")).strip(),
        model=model,
        train=_parse_section(source, "train", raw.get("train", {})),
        data=data,
        detector=_parse_section(source, "detector", raw.get("detector", {})),
        objectives=_parse_objectives(
            source, raw.get("objectives", {default_score: "maximize", "macs": "minimize"})
        ),
        budget=_parse_budget(source, raw.get("budget", {})),
        n_trials=_parse_fixed(source, "study.n_trials", study.get("n_trials", 20), _positive),
        sampler=_parse_fixed(source, "study.sampler", study.get("sampler", "tpe"), _sampler),
        timeout=_parse_timeout(source, study.get("timeout")),
        baseline_first=_parse_fixed(
            source, "study.baseline_first", study.get("baseline_first", True), _boolean
        ),
    )
    _check_conflicts(space)
    return space


def _check_conflicts(space: SearchSpace) -> None:
    """Settings that are valid one by one but not together."""
    data = space.data
    if data.val_fraction + data.test_fraction > 0.9:
        raise SpaceError(
            f"{space.source}: data.val_fraction + data.test_fraction: "
            f"{data.val_fraction} + {data.test_fraction} leave under 10% of the data to train on"
        )
    _check_task(space)
    fusion = space.model.get("fusion", ModelConfig.fusion)
    choices = [
        v
        for f in (fusion if isinstance(fusion, tuple) else (fusion,))
        for v in (f.choices if isinstance(f, Choice) else (f,))
    ]
    ratio = space.model.get("split_ratio")
    searched = any(is_spec(r) for r in (ratio if isinstance(ratio, tuple) else (ratio,)))
    if searched and all(f == "none" for f in choices):
        raise SpaceError(
            f"{space.source}: model.split_ratio: searched, but fusion is always none, so no "
            "stage is split (search fusion too, or fix split_ratio)"
        )
    if space.sampler == "grid" and space.size() is None:
        continuous = [
            k for k, v in space.searched().items() if isinstance(v, Range) and v.count() is None
        ]
        raise SpaceError(
            f"{space.source}: study.sampler: 'grid' needs discrete parameters; "
            f"continuous: {', '.join(continuous)} (give them a step or choices)"
        )


def _check_task(space: SearchSpace) -> None:
    """Detection and classification keys are not mixed."""
    source, dataset = space.source, space.data.dataset
    if space.detector and not space.is_detection:
        raise SpaceError(
            f"{source}: detector: only a detection dataset ({', '.join(DETECTION_DATASETS)}) "
            f"trains a detector; data.dataset is {dataset!r}"
        )
    wrong = ("val_accuracy",) if space.is_detection else ("val_ap50", "val_ap")
    for key in (*space.objectives, *space.budget):
        if key in wrong:
            kind = "a detection" if space.is_detection else "a classification"
            raise SpaceError(f"{source}: objectives.{key}: {dataset!r} is {kind} dataset")


def _parse_section(source: str, section: str, raw: Any, fixed: bool = False) -> dict[str, Any]:
    raw = _mapping(source, section, raw)
    _check_keys(source, f"{section}.", raw, field_names(section))
    out: dict[str, Any] = {}
    for key, value in raw.items():
        where, rule = f"{section}.{key}", RULES[section][key]
        if isinstance(value, list) and section == "model" and key in PER_STAGE:
            out[key] = tuple(
                _parse_value(source, f"{where}[{i}]", v, rule) for i, v in enumerate(value)
            )
            if not out[key]:
                raise SpaceError(f"{source}: {where}: [] needs at least one value")
        elif fixed or not isinstance(value, dict):
            out[key] = _parse_fixed(source, where, value, rule)
        else:
            out[key] = _parse_value(source, where, value, rule)
    return out


def _parse_value(source: str, where: str, value: Any, rule: Any) -> Any:
    if not isinstance(value, dict):
        return _parse_fixed(source, where, value, rule)
    if "choices" in value:
        _check_keys(source, f"{where}.", value, ("choices",))
        choices = value["choices"]
        if not isinstance(choices, list) or not choices:
            raise SpaceError(
                f"{source}: {where}.choices: {_show(choices)} must be a non-empty list"
            )
        for i, choice in enumerate(choices):
            _parse_fixed(source, f"{where}.choices[{i}]", choice, rule)
        if len(set(map(repr, choices))) != len(choices):
            raise SpaceError(f"{source}: {where}.choices: {_show(choices)} has duplicates")
        return Choice(tuple(choices))
    _check_keys(source, f"{where}.", value, ("low", "high", "step", "log"))
    for bound in ("low", "high"):
        if bound not in value:
            raise SpaceError(
                f"{source}: {where}: {_show(value)} needs 'choices' or 'low' and 'high'"
            )
        _parse_fixed(source, f"{where}.{bound}", value[bound], rule)
    spec = Range(value["low"], value["high"], value.get("step"), value.get("log", False))
    _check_range(source, where, spec)
    return spec


def _check_range(source: str, where: str, spec: Range) -> None:
    if not spec.low < spec.high:
        raise SpaceError(f"{source}: {where}: low {spec.low} must be below high {spec.high}")
    if spec.log is True and spec.low <= 0:
        raise SpaceError(f"{source}: {where}.low: {spec.low} must be above 0 with log: true")
    if not isinstance(spec.log, bool):
        raise SpaceError(f"{source}: {where}.log: {_show(spec.log)} must be true or false")
    if spec.step is not None:
        if (
            isinstance(spec.step, bool)
            or not isinstance(spec.step, (int, float))
            or not (math.isfinite(spec.step) and spec.step > 0)
        ):
            raise SpaceError(
                f"{source}: {where}.step: {_show(spec.step)} must be a positive number"
            )
        if spec.log:
            raise SpaceError(f"{source}: {where}: step and log cannot be combined")
        if isinstance(spec.low, int) and not isinstance(spec.step, int):
            raise SpaceError(f"{source}: {where}.step: {_show(spec.step)} must be an integer")


def _parse_fixed(source: str, where: str, value: Any, rule: Any) -> Any:
    reason = rule(value)
    if reason:
        raise SpaceError(f"{source}: {where}: {_show(value)} {reason}")
    return value


def _parse_objectives(source: str, raw: Any) -> dict[str, str]:
    raw = _mapping(source, "objectives", raw)
    if not raw:
        raise SpaceError(f"{source}: objectives: {{}} needs at least one metric")
    _check_keys(source, "objectives.", raw, OBJECTIVES)
    for key, direction in raw.items():
        if direction not in ("maximize", "minimize"):
            raise SpaceError(
                f"{source}: objectives.{key}: {_show(direction)} must be maximize or minimize"
            )
    return dict(raw)


def _parse_budget(source: str, raw: Any) -> dict[str, float]:
    raw = _mapping(source, "budget", raw)
    _check_keys(source, "budget.", raw, BUDGETS)
    out = {}
    for key, value in raw.items():
        try:  # YAML reads 5e7 (no dot) as a string; accept it as a number
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise SpaceError(f"{source}: budget.{key}: {_show(value)} must be a positive number")
        out[key] = number
    return out


def _parse_timeout(source: str, value: Any) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    if not ok or not math.isfinite(value):
        raise SpaceError(f"{source}: study.timeout: {_show(value)} must be a positive number")
    return float(value)


def _positive(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return None if ok else "must be a positive integer"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _sampler(value: Any) -> str | None:
    return None if value in SAMPLERS else f"must be one of {', '.join(SAMPLERS)}"


def _mapping(source: str, where: str, raw: Any) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpaceError(f"{source}: {where}: {_show(raw)} must be a mapping of keys to values")
    return raw


def _check_keys(source: str, prefix: str, raw: dict, allowed: Any) -> None:
    for key in raw:
        if key not in allowed:
            raise SpaceError(
                f"{source}: {prefix}{key}: unknown key (expected one of {', '.join(allowed)})"
            )


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
