"""Validation of a parsed space file: one line per error, naming the file, the key and the bad
value. Each field's rule is in rules.py; settings that are valid alone but not together are
checked here (``_check_conflicts``, ``check_task``).
"""

from __future__ import annotations

import math
from typing import Any

from cspsearch.errors import SpaceError
from cspsearch.space.blocks import check_blocks
from cspsearch.space.blocks import may_split_unfused
from cspsearch.space.configs import BUDGETS
from cspsearch.space.configs import DETECTION_DATASETS
from cspsearch.space.configs import OBJECTIVES
from cspsearch.space.configs import PER_STAGE
from cspsearch.space.configs import TOP_KEYS
from cspsearch.space.configs import DataConfig
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import StudyConfig
from cspsearch.space.configs import field_names
from cspsearch.space.rules import RULES
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import Range
from cspsearch.space.searchspace import SearchSpace
from cspsearch.space.searchspace import is_spec


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
    study = StudyConfig(**_parse_section(source, "study", raw.get("study", {}), fixed=True))
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
        measure=_parse_section(source, "measure", raw.get("measure", {}), fixed=True),
        n_trials=study.n_trials,
        sampler=study.sampler,
        timeout=None if study.timeout is None else float(study.timeout),
        baseline_first=study.baseline_first,
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
    check_task(space)
    check_blocks(space)  # e.g. fusion set for a c2f stage (csp_yolo's blocks)
    fusion = space.model.get("fusion", ModelConfig.fusion)
    choices = [
        v
        for f in (fusion if isinstance(fusion, tuple) else (fusion,))
        for v in (f.choices if isinstance(f, Choice) else (f,))
    ]
    ratio = space.model.get("split_ratio")
    searched = any(is_spec(r) for r in (ratio if isinstance(ratio, tuple) else (ratio,)))
    if searched and all(f == "none" for f in choices) and not may_split_unfused(space.model):
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


def check_task(space: SearchSpace) -> None:
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
            out[key] = parse_fixed(source, where, value, rule)
        else:
            out[key] = _parse_value(source, where, value, rule)
    return out


def _parse_value(source: str, where: str, value: Any, rule: Any) -> Any:
    if not isinstance(value, dict):
        return parse_fixed(source, where, value, rule)
    if "choices" in value:
        _check_keys(source, f"{where}.", value, ("choices",))
        choices = value["choices"]
        if not isinstance(choices, list) or not choices:
            raise SpaceError(
                f"{source}: {where}.choices: {_show(choices)} must be a non-empty list"
            )
        for i, choice in enumerate(choices):
            parse_fixed(source, f"{where}.choices[{i}]", choice, rule)
        if len(set(map(repr, choices))) != len(choices):
            raise SpaceError(f"{source}: {where}.choices: {_show(choices)} has duplicates")
        return Choice(tuple(choices))
    _check_keys(source, f"{where}.", value, ("low", "high", "step", "log"))
    for bound in ("low", "high"):
        if bound not in value:
            raise SpaceError(
                f"{source}: {where}: {_show(value)} needs 'choices' or 'low' and 'high'"
            )
        parse_fixed(source, f"{where}.{bound}", value[bound], rule)
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


def parse_fixed(source: str, where: str, value: Any, rule: Any) -> Any:
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
