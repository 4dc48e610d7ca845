"""``cspsearch ablate``: where the bases come from, which grid ablates them, and running it.

The bases are a study's best Pareto architectures (or the trials named), or one fixed base (a
space file with every value fixed, or a preset scaled to the dataset). Each is trained as every
variant of a grid (grid.py: csp_grid.py's fusion × γ, or detector_grid.py's Table 2), with S
seeds, everything else equal. The trials go to the study ``SOURCE-ablation`` in the same
storage; a re-run resumes it: a (base, variant, seed) already complete is not trained again,
nor queued twice. Trials run on the path every run shares (trials/execute.py: data → storage →
workers → trials; progress, artifacts, ``--trials-per-device``, ``n_trials`` recorded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from cspsearch.ablate.csp_grid import CspGrid
from cspsearch.ablate.detector_grid import DetectorGrid
from cspsearch.ablate.grid import Base
from cspsearch.ablate.grid import Cell
from cspsearch.ablate.grid import Grid
from cspsearch.ablate.grid import distinct
from cspsearch.errors import SpaceError
from cspsearch.errors import StudyError
from cspsearch.space.configs import SCORES
from cspsearch.space.loader import bundled_spaces
from cspsearch.space.loader import load_space
from cspsearch.space.loader import override_train
from cspsearch.space.loader import space_from_dict
from cspsearch.space.searchspace import SearchSpace
from cspsearch.trials import progress as out
from cspsearch.trials.execute import RunOptions
from cspsearch.trials.execute import choose_workers
from cspsearch.trials.execute import execute
from cspsearch.trials.execute import open_run
from cspsearch.trials.run import Outcome
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.workers import check_storage

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
        model = {k: v for k, v in cfg.to_dict().items() if k not in ("in_chans", "num_classes")}
        stored = {**space.to_dict(), "model": model, "name": name_or_path}
        stored["source"] = f"preset {name_or_path} (data and training of {family})"
        space = space_from_dict(stored)
        stages = PRESET_STAGES.get(name_or_path)
        return Source(space, [Base(name_or_path)], name_or_path, stages=stages, fixed=True)
    space = load_space(name_or_path)
    return Source(space, [Base(space.name)], space.name, fixed=True)


def check_options(
    *, fusions: Sequence[str] | None, ratios: Sequence[float] | None, seeds: int
) -> None:
    """SpaceError for a bad grid option, before any study is read (the values themselves are
    wrong whatever the source; whether the source's grid takes them is choose_grid's)."""
    CspGrid.make(fusions, ratios, seeds)


def choose_grid(
    source: Source,
    *,
    fusions: Sequence[str] | None,
    ratios: Sequence[float] | None,
    seeds: int,
) -> Grid:
    """The grid that ablates ``source``: the detector settings for a detection space, else
    fusion × γ (``None``: the grid's defaults). SpaceError for options the grid does not take."""
    if source.space.is_detection:
        if fusions is not None or ratios is not None:
            raise SpaceError(
                f"--fusion/--split-ratio: {source.name} is a detection study; its ablation "
                "varies the neck (fpn, gfm, efm and EFM's options) on the fixed backbone"
            )
        return DetectorGrid.make(seeds)
    return CspGrid.make(fusions, ratios, seeds)


def ablate(
    source: Source,
    grid: Grid,
    *,
    storage: str | None,
    study_name: str | None = None,
    epochs: int | None = None,
    n_workers: int | None = None,
    options: RunOptions = RunOptions(),
    progress: bool = True,
) -> Outcome:
    """Queue the ablation's missing trials in ``SOURCE-ablation`` and run them."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = source.space if epochs is None else override_train(source.space, epochs=epochs)
    if space.is_detection != grid.detection:
        kind = "a detection space" if space.is_detection else "a classification space"
        raise StudyError(f"{source.name}: {kind} does not take this grid")
    bases = source.bases(grid)
    space = grid.make_space(space, source.stages)
    wanted = grid.cells(space, bases)
    name = study_name or f"{source.name}-ablation"
    if n_workers is not None:
        check_storage(storage, n_workers)
    choose_workers(n_workers, options, 1)  # conflicting worker options: before anything
    sampler = make_sampler("random", None, space)
    study, opened = open_run(space, storage=storage, name=name, sampler=sampler, options=options)
    earlier = study.user_attrs.get("ablation", {}).get("bases", {})  # e.g. a smaller --top
    study.set_user_attr("ablation", _description(source, bases, grid, earlier))
    queued = queue(study, wanted)
    if progress:
        out.console.print(
            f"study {name}: {queued} trial(s) to run ({len(wanted)} wanted: "
            f"{len(bases)} base(s) × {len(grid.labels())} variants × {grid.seeds} "
            f"seeds) · space {space.source}",
            highlight=False,
        )
    codes = execute(
        study, space, storage=storage, target=len(wanted), todo=queued, exact=True,
        n_workers=n_workers, seed=None, options=options, progress=progress,
    )  # fmt: skip
    return Outcome(study, opened, codes)


def queue(study: optuna.Study, wanted: list[Cell]) -> int:
    """Enqueue the cells that are neither complete nor waiting; return how many wait now."""
    have: dict[tuple, set[str]] = {}
    for t in study.get_trials(deepcopy=False):
        a = t.user_attrs
        cell = (a.get("ablation_base"), a.get("ablation_variant"), a.get("ablation_seed"))
        have.setdefault(cell, set()).add(t.state.name)
    waiting = 0
    for cell in wanted:
        states = have.get((cell.base, cell.variant, cell.seed), set())
        if "COMPLETE" in states:
            continue
        if "WAITING" not in states:
            study.enqueue_trial(cell.params, user_attrs=cell.attrs())
        waiting += 1
    return waiting


def _description(source: Source, bases: list[Base], grid: Grid, earlier: dict) -> dict:
    """The study attribute ``ablation``: what a report needs to lay the study out (the bases
    of earlier runs stay: their trials are in the study)."""
    return {
        "source": source.name,
        "bases": {**earlier, **{b.name: b.params for b in bases}},
        "variants": grid.labels(),
        "reference": grid.reference,
        "seeds": grid.seeds,
        "csp_stages": list(source.stages) if source.stages is not None else "all",
    }
