"""A search, from Python or the CLI: ``search(space, n_trials=…, storage=…)`` opens (or resumes)
the study, runs its trials here or in worker processes, and returns the Optuna study.

Every rule of a run lives here, so ``cspsearch run`` and a notebook behave the same: the
options are checked before anything is written (rules.py), the dataset is loaded once up front
(a missing one is a DataError), a new study's first trial is the plain network (fusion none),
and the study records the sampler its workers must use. ``work`` is ``cspsearch worker``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import optuna

from cspsearch.errors import DataError
from cspsearch.errors import StudyError
from cspsearch.space.loader import load_space
from cspsearch.space.loader import override_data
from cspsearch.space.loader import override_train
from cspsearch.space.loader import space_from_dict
from cspsearch.space.searchspace import SearchSpace
from cspsearch.trials import progress as out
from cspsearch.trials.artifacts import DEFAULT_ARTIFACTS
from cspsearch.trials.artifacts import artifact_store
from cspsearch.trials.recovery import counted_trials
from cspsearch.trials.rules import check_run
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.study import check_early_stop
from cspsearch.trials.study import default_study_name
from cspsearch.trials.study import join_study
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study
from cspsearch.trials.study import run_study
from cspsearch.trials.study import study_fingerprint
from cspsearch.trials.workers import WORKER_ID
from cspsearch.trials.workers import check_storage
from cspsearch.trials.workers import cpu_threads
from cspsearch.trials.workers import default_workers
from cspsearch.trials.workers import describe_exit
from cspsearch.trials.workers import device_for
from cspsearch.trials.workers import spawn
from cspsearch.trials.workers import split
from cspsearch.trials.workers import worker_args
from cspsearch.trials.workers import workers_for


@dataclass(frozen=True)
class RunOptions:
    """How trials run, wherever they run."""

    device: str = "auto"
    artifacts: Path = DEFAULT_ARTIFACTS
    timeout: float | None = None  # seconds for the whole run
    trial_timeout: float | None = None  # seconds per trial
    early_stop: bool = False  # successive halving over Pareto dominance (early_stop.py)
    trials_per_device: int = 1  # concurrent trials (worker processes) per GPU, or on the CPU
    gradients: bool = False  # record gradient duplication per stage (measure/gradients.py)


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
    _load_data(space, options.device)
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
        _run_trials(study, space, total, None, options, live=progress)
        return Outcome(study, opened)
    study.set_user_attr("n_trials", total)
    shared = check_storage(storage, n_workers)
    codes = spawn(worker_args(name, shared, seed, options), split(todo, n_workers))
    for i, c in enumerate(codes):
        if c:
            out.console.print(f"[red]{describe_exit(i, c)}[/red]", highlight=False)
    return Outcome(study, opened, codes)


def work(
    study_name: str, storage: str, quota: int | None, seed: int | None, options: RunOptions
) -> None:
    """``cspsearch worker``: join a study and run trials (``quota`` of them, when given)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    opened = open_storage(storage, must_exist=True)
    try:
        stored = optuna.load_study(study_name=study_name, storage=opened).user_attrs
    except KeyError:
        raise StudyError(f"no study {study_name!r} in {storage}") from None
    if "space" not in stored:
        raise StudyError(f"study {study_name!r} was not made by cspsearch run")
    space = space_from_dict(stored["space"])
    check_early_stop(study_name, stored, options.early_stop)
    if study_fingerprint(space, options.early_stop) != stored.get("space_fingerprint"):
        raise StudyError(f"study {study_name!r}: its stored space does not match its fingerprint")
    index = int(os.environ.get(WORKER_ID, "0"))
    threads = cpu_threads()
    if threads is not None:  # the workers of one machine share its cores
        import torch

        torch.set_num_threads(threads)
    base_seed = seed if seed is not None else 0
    sampler = make_sampler(
        stored.get("sampler", "tpe"),
        base_seed + 1000 * (index + 1),  # a seed of its own: workers must not propose alike
        space,
        parallel=True,
        n_trials=stored.get("n_trials"),
    )
    study = optuna.load_study(study_name=study_name, storage=opened, sampler=sampler)
    options = device_for(index, options)
    _run_trials(study, space, None, quota, options, live=False, prefix=f"[worker {index}] ")


def _run_trials(
    study: optuna.Study,
    space: SearchSpace,
    total: int | None,
    quota: int | None,
    options: RunOptions,
    live: bool,
    prefix: str = "",
) -> None:
    from cspsearch.trials.early_stop import EarlyStop
    from cspsearch.trials.objective import Objective  # torch: only where trials run

    runs_here = quota if quota is not None else max(0, (total or 0) - counted_trials(study))
    with out.RunProgress(runs_here, live=live, prefix=prefix) as progress:
        objective = Objective(
            space,
            options.device,
            on_epoch=progress.on_epoch,
            artifacts=artifact_store(options.artifacts),
            trial_timeout=options.trial_timeout,
            early_stop=EarlyStop() if options.early_stop else None,
            gradients=options.gradients,
        )
        timeout = options.timeout or space.timeout
        if total is None and quota is None:
            join_study(study, objective, timeout, [progress.on_trial])
        else:
            run_study(study, objective, total or 0, timeout, [progress.on_trial], quota=quota)


def _load_data(space: SearchSpace, device: str) -> None:
    """Load the dataset now (it is cached for the trials): a missing or corrupt one is a
    DataError before anything is written."""
    from cspsearch.training.device import pick_device
    from cspsearch.training.task import get_task

    try:
        get_task(space.task).load_data(space, pick_device(device))
    except DataError as exc:
        if space.is_detection:  # name the space file and key that led to the data
            raise DataError(f"{space.source}: data.path: {exc}") from None
        raise
