"""``cspsearch ablate``: the controlled CSP ablation of a few base architectures (issue 13).

The bases are a study's best Pareto architectures (or the trials named), or one fixed base (a
space file with every value fixed, or a preset scaled to the dataset). Each is trained as the
plain network and as every fusion × γ of the grid, with S seeds, everything else equal
(ablate_grid.py). The trials go to the study ``SOURCE-ablation`` in the same storage; a re-run
resumes it: a (base, variant, seed) already complete is not trained again, nor queued twice.
Trials run as for ``cspsearch run`` (progress, workers, artifacts; run.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from cspsearch.errors import StudyError
from cspsearch.space.configs import SCORES
from cspsearch.space.loader import bundled_spaces
from cspsearch.space.loader import load_space
from cspsearch.space.loader import override_train
from cspsearch.space.loader import space_from_dict
from cspsearch.space.searchspace import SearchSpace
from cspsearch.trials import progress as out
from cspsearch.trials.ablate_detector import DetectorGrid
from cspsearch.trials.ablate_detector import check_detector_fixed
from cspsearch.trials.ablate_detector import detector_base_params
from cspsearch.trials.ablate_detector import detector_cells
from cspsearch.trials.ablate_detector import detector_space
from cspsearch.trials.ablate_grid import Base
from cspsearch.trials.ablate_grid import Cell
from cspsearch.trials.ablate_grid import Grid
from cspsearch.trials.ablate_grid import ablation_space
from cspsearch.trials.ablate_grid import base_params
from cspsearch.trials.ablate_grid import cells
from cspsearch.trials.ablate_grid import check_fixed
from cspsearch.trials.ablate_grid import distinct
from cspsearch.trials.execute import RunOptions
from cspsearch.trials.execute import load_data
from cspsearch.trials.execute import run_trials
from cspsearch.trials.execute import run_workers
from cspsearch.trials.run import Outcome
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study
from cspsearch.trials.workers import check_storage
from cspsearch.trials.workers import default_workers

# A preset's CSP stages in the paper's ablation: CSPPeleeNet keeps stage 1 plain (an inference,
# cspsearch/measure/ablation.py), which its compute numbers need to be comparable.
PRESET_STAGES = {"peleenet": (1, 2, 3), "csppeleenet": (1, 2, 3)}


@dataclass(frozen=True)
class Source:
    """Where the bases come from: a study's trials, or one fixed base of a space or preset."""

    space: SearchSpace
    bases: list[Base]
    name: str  # the ablation study is NAME-ablation
    csp_stages: tuple[int, ...] | None = None


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
    keep = detector_base_params if space.is_detection else base_params
    bases = distinct([Base(f"trial {t.number}", keep(space, t.params)) for t in chosen])
    return Source(space, bases if numbers else bases[:top], name)


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
        return Source(space, [Base(name_or_path)], name_or_path, PRESET_STAGES.get(name_or_path))
    space = load_space(name_or_path)
    (check_detector_fixed if space.is_detection else check_fixed)(space)
    return Source(space, [Base(space.name)], space.name)


def ablate(
    source: Source,
    grid: Grid | DetectorGrid,
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
    if space.is_detection != isinstance(grid, DetectorGrid):
        raise StudyError(f"{source.name}: a detection space takes the detector grid, only it")
    if isinstance(grid, DetectorGrid):
        space = detector_space(space, grid)
        wanted = detector_cells(space, source.bases, grid)
    else:
        space = ablation_space(space, grid, source.csp_stages)
        wanted = cells(space, source.bases, grid)
    name = study_name or f"{source.name}-ablation"
    if n_workers is not None:
        check_storage(storage, n_workers)
    load_data(space, options.device)  # a missing dataset: an error before anything is written
    opened = open_storage(storage)
    study = open_study(space, opened, name, make_sampler("random", None, space))
    earlier = study.user_attrs.get("ablation", {}).get("bases", {})  # e.g. a smaller --top
    study.set_user_attr("ablation", _description(source, grid, earlier))
    queued = queue(study, wanted)
    if progress:
        out.console.print(
            f"study {name}: {queued} trial(s) to run ({len(wanted)} wanted: "
            f"{len(source.bases)} base(s) × {len(grid.variants())} variants × {grid.seeds} "
            f"seeds) · space {space.source}",
            highlight=False,
        )
    if n_workers is None:  # as for run: one single-threaded worker per core on a CPU
        n_workers = default_workers(options.device, queued)
    if n_workers <= 1 or queued == 0:
        run_trials(study, space, None, queued, options, live=progress)
        return Outcome(study, opened)
    shared = check_storage(storage, n_workers)
    return Outcome(study, opened, run_workers(name, shared, None, options, queued, n_workers))


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


def _description(source: Source, grid: Grid | DetectorGrid, earlier: dict) -> dict:
    """The study attribute ``ablation``: what a report needs to lay the study out (the bases
    of earlier runs stay: their trials are in the study)."""
    return {
        "source": source.name,
        "bases": {**earlier, **{b.name: b.params for b in source.bases}},
        "variants": grid.labels(),
        "reference": grid.reference,
        "seeds": grid.seeds,
        "csp_stages": list(source.csp_stages) if source.csp_stages is not None else "all",
    }
