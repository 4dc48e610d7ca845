"""Where an ablation's bases come from: a study's best Pareto architectures (or the trials
named), or one fixed base — a space file with every value fixed, or a preset scaled to the
dataset (its family's bundled space's data and training). A grid (grid.py) says which of a
trial's parameters define its base (``Source.bases``).
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from cspsearch.ablate.grid import Base
from cspsearch.ablate.grid import Grid
from cspsearch.ablate.grid import distinct
from cspsearch.errors import StudyError
from cspsearch.space.configs import SCORES
from cspsearch.space.configs import YOLO_ONLY
from cspsearch.space.configs import ModelConfig
from cspsearch.space.loader import bundled_spaces
from cspsearch.space.loader import load_space
from cspsearch.space.loader import space_from_dict
from cspsearch.space.searchspace import SearchSpace

# A preset's CSP stages in the paper's ablation: CSPPeleeNet keeps stage 1 plain (an inference,
# cspsearch/measure/paper_compute.py), which its compute numbers need to be comparable.
PRESET_STAGES = {"peleenet": (1, 2, 3), "csppeleenet": (1, 2, 3)}


@dataclass(frozen=True)
class Source:
    """Where the bases come from: a study's trials (with every parameter; the grid says which
    define a base), or one fixed base of a space file or preset."""

    space: SearchSpace
    candidates: list[Base]
    name: str  # the ablation study is NAME-ablation
    stages: tuple[int, ...] | None = None  # the stages a variant changes (None: every one)
    top: int | None = None  # keep the first K distinct bases
    fixed: bool = False  # a space file or preset: every value but the grid's must be fixed

    def bases(self, grid: Grid) -> list[Base]:
        """The distinct bases under ``grid`` (SpaceError if a fixed base searches a value)."""
        if self.fixed:
            grid.check_fixed(self.space)
        found = [Base(b.name, grid.base_params(self.space, b.params)) for b in self.candidates]
        bases = distinct(found)
        return bases if self.top is None else bases[: self.top]


def from_study(
    storage: optuna.storages.BaseStorage, name: str, top: int, numbers: list[int] | None
) -> Source:
    """The ``top`` best distinct Pareto architectures of study ``name``, or trials ``numbers``."""
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise StudyError(f"no study {name!r} in this storage") from None
    if "space" not in study.user_attrs:
        raise StudyError(f"study {name!r} was not made by cspsearch run")
    space = space_from_dict(study.user_attrs["space"])
    done = [t for t in study.get_trials(deepcopy=False) if _trained(t)]
    if not done:
        raise StudyError(f"study {name!r} has no complete trained trial to ablate")
    if numbers:
        by_number = {t.number: t for t in done}
        missing = [n for n in numbers if n not in by_number]
        if missing:
            raise StudyError(f"study {name!r}: trial {missing[0]} is not a complete trained trial")
        chosen = [by_number[n] for n in numbers]
    else:
        front = {t.number for t in study.best_trials}
        score = next((n for n in (study.metric_names or []) if n in SCORES), "val_accuracy")
        chosen = sorted(
            (t for t in done if t.number in front), key=lambda t: -t.user_attrs.get(score, 0)
        )
    candidates = [Base(f"trial {t.number}", dict(t.params)) for t in chosen]
    return Source(space, candidates, name, top=None if numbers else top)


def _trained(t: optuna.trial.FrozenTrial) -> bool:
    feasible = all(v <= 0 for v in t.constraints.values())
    return t.state == TrialState.COMPLETE and bool(t.user_attrs.get("trained")) and feasible


def from_space(name_or_path: str) -> Source:
    """One fixed base: a preset (with its family's bundled space's data and training, at an
    input size its downsampling allows) or a space file with every value fixed."""
    from cspsearch.models.presets import PRESETS

    if name_or_path in PRESETS:
        cfg, _ = PRESETS[name_or_path]
        family = cfg.family if cfg.family in bundled_spaces() else "csp_densenet"
        space = load_space(family)
        model = _preset_model(cfg)
        stored = {**space.to_dict(), "model": model, "name": name_or_path}
        stored["source"] = f"preset {name_or_path} (data and training of {family})"
        space = space_from_dict(stored)
        stages = PRESET_STAGES.get(name_or_path)
        return Source(space, [Base(name_or_path)], name_or_path, stages=stages, fixed=True)
    space = load_space(name_or_path)
    return Source(space, [Base(space.name)], space.name, fixed=True)


def _preset_model(cfg: ModelConfig) -> dict:
    """A preset's model section: every field but those the data sets, and, outside csp_yolo,
    none of csp_yolo's own keys (a space file of another family may not name them)."""
    default = ModelConfig(num_stages=cfg.num_stages).to_dict()
    yolo_keys = ("block", "hidden_ratio", "shortcut", "c3k", *YOLO_ONLY)
    return {
        k: v
        for k, v in cfg.to_dict().items()
        if k not in ("in_chans", "num_classes")
        and (cfg.family == "csp_yolo" or k not in yolo_keys or v != default[k])
    }
