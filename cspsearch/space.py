"""Search-space files: YAML → a frozen, validated SearchSpace (no torch, no optuna).

Sections: ``model`` and ``train`` (each key fixed or searched), ``data`` (fixed), ``objectives``
(metric: maximize|minimize), ``budget`` (metric: upper limit) and ``study`` (defaults for a run).
A searched value is ``{choices: [...]}`` or ``{low: a, high: b[, step: s][, log: true]}``; a
per-stage model key may also be a list with one fixed or searched value per stage. Every error
names the file, the key and the bad value in one line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cspsearch.configs import PER_STAGE
from cspsearch.configs import RULES
from cspsearch.configs import DataConfig
from cspsearch.configs import ModelConfig
from cspsearch.configs import field_names
from cspsearch.errors import SpaceError

OBJECTIVES = ("val_accuracy", "macs", "flops", "params")  # what a trial can be scored on
BUDGETS = ("macs", "params")  # what an architecture can be limited by before training
SAMPLERS = ("tpe", "nsga2", "gp", "random", "grid")
TOP_KEYS = ("description", "model", "train", "data", "objectives", "budget", "study")
STUDY_KEYS = ("n_trials", "sampler", "timeout")


@dataclass(frozen=True)
class Choice:
    """A categorical parameter."""

    choices: tuple


@dataclass(frozen=True)
class Range:
    """A numeric parameter; integer when both bounds (and the step) are integers."""

    low: float
    high: float
    step: float | None = None
    log: bool = False

    @property
    def is_int(self) -> bool:
        return all(isinstance(v, int) for v in (self.low, self.high, self.step or 1))

    def count(self) -> int | None:
        """Number of distinct values, or None when continuous."""
        if self.is_int:
            return (self.high - self.low) // (self.step or 1) + 1 if not self.log else None
        return None if self.step is None else math.floor((self.high - self.low) / self.step) + 1


Spec = Choice | Range


@dataclass(frozen=True)
class SearchSpace:
    """A validated space file. ``model``/``train`` map a key to a fixed value, a Spec, or a
    tuple of those (one per stage)."""

    name: str
    source: str
    description: str
    model: dict[str, Any]
    train: dict[str, Any]
    data: DataConfig
    objectives: dict[str, str]
    budget: dict[str, float]
    n_trials: int = 20
    sampler: str = "tpe"
    timeout: float | None = None

    def searched(self) -> dict[str, Spec]:
        """Optuna parameter name → spec, for every searched value (per-stage ones as key_i)."""
        out: dict[str, Spec] = {}
        for section in (self.model, self.train):
            for key, value in section.items():
                if isinstance(value, tuple):
                    out.update({f"{key}_{i}": v for i, v in enumerate(value) if _is_spec(v)})
                elif _is_spec(value):
                    out[key] = value
        return out

    def size(self) -> int | None:
        """Number of distinct discrete combinations (split_ratio only counts when fused), or
        None when a parameter is continuous."""
        return _space_size(self)

    def override_train(self, **values: Any) -> SearchSpace:
        """A copy with training values fixed (e.g. --epochs from the CLI), validated."""
        train = dict(self.train)
        for key, value in values.items():
            train[key] = _parse_fixed(self.source, f"train.{key}", value, RULES["train"][key])
        return dataclasses.replace(self, train=train)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; stored with each study so a report can show what was searched."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def fingerprint(self) -> str:
        """Hash of what decides a trial's meaning (not the file's path or run defaults)."""
        keep = {k: v for k, v in self.to_dict().items() if k in ("model", "train", "data")}
        keep["objectives"], keep["budget"] = self.objectives, self.budget
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


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


def parse_space(raw: Any, source: str, name: str) -> SearchSpace:
    """Validate a parsed space file; raise SpaceError naming the first bad key."""
    if not isinstance(raw, dict):
        raise SpaceError(f"{source}: the file must be a mapping of sections ({', '.join(TOP_KEYS)})")
    _check_keys(source, "", raw, TOP_KEYS)
    model = _parse_section(source, "model", raw.get("model", {}))
    stages = model.get("num_stages", ModelConfig.num_stages)
    for key, value in model.items():
        if isinstance(value, tuple) and (_is_spec(stages) or len(value) != stages):
            raise SpaceError(
                f"{source}: model.{key}: {len(value)} per-stage values need a fixed "
                f"num_stages of {len(value)} (num_stages is {_show(stages)})"
            )
    study = _mapping(source, "study", raw.get("study", {}))
    _check_keys(source, "study.", study, STUDY_KEYS)
    return SearchSpace(
        name=name,
        source=source,
        description=str(raw.get("description", "")).strip(),
        model=model,
        train=_parse_section(source, "train", raw.get("train", {})),
        data=DataConfig(**_parse_section(source, "data", raw.get("data", {}), fixed=True)),
        objectives=_parse_objectives(source, raw.get("objectives", {"val_accuracy": "maximize",
                                                                   "macs": "minimize"})),
        budget=_parse_budget(source, raw.get("budget", {})),
        n_trials=_parse_fixed(source, "study.n_trials", study.get("n_trials", 20), _positive),
        sampler=_parse_fixed(source, "study.sampler", study.get("sampler", "tpe"), _sampler),
        timeout=_parse_timeout(source, study.get("timeout")),
    )


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
            raise SpaceError(f"{source}: {where}.choices: {_show(choices)} must be a non-empty list")
        for i, choice in enumerate(choices):
            _parse_fixed(source, f"{where}.choices[{i}]", choice, rule)
        if len(set(map(repr, choices))) != len(choices):
            raise SpaceError(f"{source}: {where}.choices: {_show(choices)} has duplicates")
        return Choice(tuple(choices))
    _check_keys(source, f"{where}.", value, ("low", "high", "step", "log"))
    for bound in ("low", "high"):
        if bound not in value:
            raise SpaceError(f"{source}: {where}: {_show(value)} needs 'choices' or 'low' and 'high'")
        _parse_fixed(source, f"{where}.{bound}", value[bound], rule)
    spec = Range(value["low"], value["high"], value.get("step"), value.get("log", False))
    _check_range(source, where, spec)
    return spec


def _check_range(source: str, where: str, spec: Range) -> None:
    if not spec.low < spec.high:
        raise SpaceError(f"{source}: {where}: low {spec.low} must be below high {spec.high}")
    if not isinstance(spec.log, bool):
        raise SpaceError(f"{source}: {where}.log: {_show(spec.log)} must be true or false")
    if spec.step is not None:
        if isinstance(spec.step, bool) or not isinstance(spec.step, (int, float)) or not (
            math.isfinite(spec.step) and spec.step > 0
        ):
            raise SpaceError(f"{source}: {where}.step: {_show(spec.step)} must be a positive number")
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


def _is_spec(value: Any) -> bool:
    return isinstance(value, (Choice, Range))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _count(value: Any) -> int | None:
    if isinstance(value, Choice):
        return len(value.choices)
    return value.count() if isinstance(value, Range) else 1


def _values(value: Any) -> tuple:
    return value.choices if isinstance(value, Choice) else (value,)


def _space_size(space: SearchSpace) -> int | None:
    n = space.model.get("num_stages", ModelConfig.num_stages)
    if _is_spec(n):
        return None  # per-stage counts depend on the sampled number of stages
    fusion = space.model.get("fusion", ModelConfig.fusion)
    ratios = [_count(v) for v in _stagewise(space.model.get("split_ratio", 0.5), n)]
    total: int | None = 1
    for key, value in [*space.model.items(), *space.train.items()]:
        if key in ("fusion", "split_ratio"):
            continue
        for part in value if isinstance(value, tuple) else (value,):
            c = _count(part)
            total = None if c is None or total is None else total * c
    if total is None or None in ratios:
        return None

    def fused(f: str, i: int) -> int:  # split_ratio is only sampled where a stage is fused
        return 1 if f == "none" else ratios[i]

    if isinstance(fusion, tuple):  # one fusion per stage, each chosen independently
        stages = [sum(fused(f, i) for f in _values(v)) for i, v in enumerate(fusion)]
        return total * math.prod(stages)
    return total * sum(math.prod(fused(f, i) for i in range(n)) for f in _values(fusion))


def _stagewise(value: Any, n: int) -> tuple:
    return value if isinstance(value, tuple) else (value,) * n
