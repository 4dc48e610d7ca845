"""A search, from Python or the CLI: ``search(space, n_trials=…, storage=…)`` opens (or resumes)
the study, runs its trials here or in worker processes, and returns the Optuna study.

Every rule of a run lives here, so ``cspsearch run`` and a notebook behave the same: the
options are checked before anything is written (rules.py), the dataset is loaded once up front
(a missing one is a DataError), a new study's first trial is the plain network (fusion none),
and the study records the sampler its workers must use. Where trials run: execute.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import optuna

from cspsearch.space.loader import load_space
from cspsearch.space.loader import override_data
from cspsearch.space.loader import override_train
from cspsearch.space.searchspace import SearchSpace
from cspsearch.trials import progress as out
from cspsearch.trials.execute import RunOptions
from cspsearch.trials.execute import choose_workers
from cspsearch.trials.execute import execute
from cspsearch.trials.execute import open_run
from cspsearch.trials.execute import work
from cspsearch.trials.per_device import resolve as resolve_trials_per_device
from cspsearch.trials.recovery import counted_trials
from cspsearch.trials.rules import check_run
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.study import default_study_name


@dataclass(frozen=True)
class Outcome:
    """What a search leaves: the study, its storage, and the exit code of each worker."""

    study: optuna.Study
    storage: optuna.storages.BaseStorage
    worker_codes: list[int] = field(default_factory=list)


def search(
    space: str | Path | SearchSpace,
    *,
    n_trials: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    sampler: str | None = None,
    seed: int | None = None,
    n_workers: int | None = None,
    data: str | None = None,
    train: dict[str, Any] | None = None,
    options: RunOptions = RunOptions(),
    progress: bool = True,
) -> optuna.Study:
    """Search ``space`` (a bundled name, a file or a SearchSpace) and return the Optuna study.

    ``n_trials``: counted trials the study should hold (default: the space's); re-running
    resumes. ``storage``: an Optuna URL or a Journal file path (default
    ``sqlite:///reports/cspsearch.db``). ``n_workers``: worker processes (default: one
    single-threaded worker per core on a CPU, 1 on a GPU). ``train``: training values to fix,
    e.g. ``{"epochs": 1}``; like ``data`` ("NAME[:PATH]") they name a separate study.
    """
    return run_search(
        space,
        n_trials=n_trials,
        storage=storage,
        study_name=study_name,
        sampler=sampler,
        seed=seed,
        n_workers=n_workers,
        data=data,
        overrides=train or {},
        options=options,
        progress=progress,
    ).study


def run_search(
    space_arg: str | Path | SearchSpace,
    *,
    n_trials: int | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    sampler: str | None = None,
    seed: int | None = None,
    n_workers: int | None = None,
    data: str | None = None,
    overrides: dict[str, Any] | None = None,
    options: RunOptions = RunOptions(),
    progress: bool = True,
) -> Outcome:
    """``search`` with the worker exit codes (``cspsearch run`` turns them into its own)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead
    overrides = overrides or {}
    space = space_arg if isinstance(space_arg, SearchSpace) else load_space(space_arg)
    space = override_train(space, **overrides)
    if data:
        space = override_data(space, data)
        overrides = {**overrides, "data": data.partition(":")[0]}
    name = study_name or default_study_name(space.name, overrides, options.early_stop)
    check_run(space, options.early_stop)
    options, per_device = resolve_trials_per_device(options, space, n_workers)
    planned = choose_workers(n_workers, options, 1 << 30)
    total = n_trials or space.n_trials
    # The sampler of a parallel study lies about running trials (samplers.py); it may refuse.
    chosen = make_sampler(sampler or space.sampler, seed, space, planned > 1, total)
    study, opened = open_run(space, storage=storage, name=name, sampler=chosen, options=options)
    study.set_user_attr("sampler", sampler or space.sampler)
    if space.baseline_first and not study.trials and space.baseline_params():
        study.enqueue_trial(space.baseline_params())  # every study gets its reference point
    todo = max(0, total - counted_trials(study))
    if progress:
        out.console.print(per_device, highlight=False)
        out.console.print(
            f"study {name}: {todo} trial(s) to run ({total} wanted, {total - todo} "
            f"done) · space {space.source}",
            highlight=False,
        )
    codes = execute(
        study, space, storage=storage, target=total, todo=todo, exact=False,
        n_workers=n_workers, seed=seed, options=options, progress=progress,
    )  # fmt: skip
    return Outcome(study, opened, codes)


__all__ = ["Outcome", "RunOptions", "run_search", "search", "work"]
