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
from cspsearch.trials.execute import load_data
from cspsearch.trials.execute import run_trials
from cspsearch.trials.execute import run_workers
from cspsearch.trials.execute import work
from cspsearch.trials.recovery import counted_trials
from cspsearch.trials.rules import check_run
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.study import default_study_name
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study
from cspsearch.trials.workers import check_storage
from cspsearch.trials.workers import default_workers
from cspsearch.trials.workers import workers_for


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
        space, n_trials, storage, study_name, sampler, seed, n_workers, data, train or {},
        options, progress,
    ).study  # fmt: skip


def run_search(
    space_arg: str | Path | SearchSpace,
    n_trials: int | None,
    storage: str | None,
    study_name: str | None,
    sampler: str | None,
    seed: int | None,
    n_workers: int | None,
    data: str | None,
    overrides: dict[str, Any],
    options: RunOptions,
    progress: bool = True,
) -> Outcome:
    """``search`` with the worker exit codes (``cspsearch run`` turns them into its own)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead
    space = space_arg if isinstance(space_arg, SearchSpace) else load_space(space_arg)
    space = override_train(space, **overrides)
    if data:
        space = override_data(space, data)
        overrides = {**overrides, "data": data.partition(":")[0]}
    name = study_name or default_study_name(space.name, overrides, options.early_stop)
    check_run(space, options.early_stop)
    load_data(space, options.device)
    if n_workers is not None or options.trials_per_device > 1:
        n_workers = workers_for(n_workers or 1, options.trials_per_device, options.device)
    planned = n_workers if n_workers is not None else default_workers(options.device, 1 << 30)
    parallel = planned > 1  # the sampler of a parallel study lies about running trials
    total = n_trials or space.n_trials
    chosen = make_sampler(sampler or space.sampler, seed, space, parallel, total)  # may refuse
    opened = open_storage(storage)  # only now is anything written
    study = open_study(space, opened, name, chosen, options.early_stop)
    study.set_user_attr("sampler", sampler or space.sampler)
    if space.baseline_first and not study.trials and space.baseline_params():
        study.enqueue_trial(space.baseline_params())  # every study gets its reference point
    todo = max(0, total - counted_trials(study))
    if progress:
        out.console.print(
            f"study {name}: {todo} trial(s) to run ({total} wanted, {total - todo} "
            f"done) · space {space.source}",
            highlight=False,
        )
    if n_workers is None:  # one single-threaded worker per core on a CPU (workers.py)
        n_workers = default_workers(options.device, todo)
    if n_workers == 1:
        run_trials(study, space, total, None, options, live=progress)
        return Outcome(study, opened)
    study.set_user_attr("n_trials", total)
    codes = run_workers(name, check_storage(storage, n_workers), seed, options, todo, n_workers)
    return Outcome(study, opened, codes)


__all__ = ["Outcome", "RunOptions", "run_search", "search", "work"]
