"""Search spaces as data: a frozen SearchSpace and its parameter specs (no torch, no optuna).

``model``/``train`` map a config key to a fixed value, a Choice, a Range, or a tuple of those
(one per stage). loader.py reads the YAML files that produce these and parse.py validates them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from cspsearch.space.configs import DATASET_TASKS
from cspsearch.space.configs import DataConfig
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import block_takes


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
    baseline_first: bool = True  # a new study's first trial is the plain network (fusion none)
    detector: dict[str, Any] = field(default_factory=dict)  # neck and head; detection only
    measure: dict[str, Any] = field(default_factory=dict)  # how costs are measured (ort_threads)

    @property
    def task(self) -> str:
        """The task the dataset trains: classification or detection (cspsearch/<task>/)."""
        return DATASET_TASKS[self.data.dataset]

    @property
    def is_detection(self) -> bool:
        return self.task == "detection"

    def searched(self) -> dict[str, Spec]:
        """Optuna parameter name → spec, for every searched value (per-stage ones as key_i)."""
        out: dict[str, Spec] = {}
        for section in (self.model, self.train, self.detector):
            for key, value in section.items():
                if isinstance(value, tuple):
                    out.update({f"{key}_{i}": v for i, v in enumerate(value) if is_spec(v)})
                elif is_spec(value):
                    out[key] = value
        return out

    def baseline_params(self) -> dict[str, Any]:
        """Fixed values that make a trial the plain network: every searched fusion set to none
        (empty when fusion is fixed or none is not a choice)."""
        fusion, block = self.model.get("fusion"), self.model.get("block")
        if isinstance(block, Choice):  # csp_yolo: the plain network is the csp block's
            plain = "csp" in block.choices and self.model.get("family") == "csp_yolo"
            rest = dataclasses.replace(self, model={**self.model, "block": "csp"})
            base = rest.baseline_params() if plain else {}
            return {"block": "csp", **base} if base else {}
        if isinstance(fusion, Choice) and "none" in fusion.choices:
            return {"fusion": "none"}
        if isinstance(fusion, tuple):
            return {
                f"fusion_{i}": "none"
                for i, f in enumerate(fusion)
                if isinstance(f, Choice) and "none" in f.choices
            }
        return {}

    def size(self) -> int | None:
        """Number of distinct discrete combinations (split_ratio only counts when fused), or
        None when a parameter is continuous."""
        return _space_size(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; stored with each study so a report can show what was searched."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def fingerprint(self) -> str:
        """Hash of what decides a trial's meaning (not the file's path or run defaults)."""
        sections = ("model", "train", "data", "detector", "measure")
        keep = {k: v for k, v in self.to_dict().items() if k in sections and v != {}}
        keep["objectives"], keep["budget"] = self.objectives, self.budget
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def is_spec(value: Any) -> bool:
    return isinstance(value, (Choice, Range))


def _count(value: Any) -> int | None:
    if isinstance(value, Choice):
        return len(value.choices)
    return value.count() if isinstance(value, Range) else 1


def _values(value: Any) -> tuple:
    return value.choices if isinstance(value, Choice) else (value,)


def _space_size(space: SearchSpace) -> int | None:
    block = space.model.get("block")
    if isinstance(block, Choice):  # each block adds the combinations of the keys it takes
        sizes = [
            _space_size(dataclasses.replace(space, model=_restrict(space.model, b)))
            for b in block.choices
        ]
        return None if None in sizes else sum(sizes)
    n = space.model.get("num_stages", ModelConfig.num_stages)
    if is_spec(n):
        return None  # per-stage counts depend on the sampled number of stages
    others = [
        _count(part)
        for key, value in [*space.model.items(), *space.train.items(), *_unconditional(space)]
        if key not in ("fusion", "split_ratio")
        for part in (value if isinstance(value, tuple) else (value,))
    ]
    others.append(_maxout_count(space.detector))
    if None in others:
        return None
    fusion = space.model.get("fusion", ModelConfig.fusion)
    ratio = space.model.get("split_ratio", ModelConfig.split_ratio)
    if isinstance(fusion, tuple):  # each stage's fusion chosen on its own
        assignments = itertools.product(*(_values(v) for v in fusion))
    else:
        assignments = ((f,) * n for f in _values(fusion))
    total = 0
    for fusions in assignments:  # split_ratio is only sampled where a stage is fused
        if isinstance(ratio, tuple):
            counts = [_count(r) if f != "none" else 1 for f, r in zip(fusions, ratio)]
        else:
            counts = [_count(ratio) if any(f != "none" for f in fusions) else 1]
        if None in counts:
            return None
        total += math.prod(counts)
    return math.prod(others) * total


def _restrict(model: dict[str, Any], block: str) -> dict[str, Any]:
    """The model section with ``block`` fixed and the keys it does not take left out."""
    return {**{k: v for k, v in model.items() if block_takes(block, k)}, "block": block}


def _unconditional(space: SearchSpace) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in space.detector.items() if k not in ("maxout", "maxout_size")]


def _maxout_count(detector: dict[str, Any]) -> int | None:
    """Maxout settings: off, or on with each group size (the size is only drawn when on)."""
    sizes = _count(detector.get("maxout_size", 2))
    if sizes is None:
        return None
    return sum(sizes if on else 1 for on in _values(detector.get("maxout", True)))
