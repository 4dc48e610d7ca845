"""Where trials run: here, in local worker processes, or in a worker that joined from anywhere.

``open_run`` and ``execute`` are the path every run shares (``cspsearch run`` and ``cspsearch
ablate`` alike): data → storage → study, then workers → trials, with the study's ``n_trials``
recorded. ``run_trials`` runs a study's trials in this process; ``run_workers`` starts local
workers, forked from this process where that is safe (workers.py says when) or as ``cspsearch
worker`` processes; ``work`` is one worker: it rebuilds the space from the study, takes its own
sampler seed and runs its share. ``load_data`` loads the dataset up front (cached for the trials).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path

import optuna
from rich.markup import escape

from cspsearch.errors import CspSearchError
from cspsearch.errors import DataError
from cspsearch.errors import StudyError
from cspsearch.space.loader import space_from_dict
from cspsearch.space.searchspace import SearchSpace
from cspsearch.trials import progress as out
from cspsearch.trials import rules
from cspsearch.trials.artifacts import DEFAULT_ARTIFACTS
from cspsearch.trials.artifacts import artifact_store
from cspsearch.trials.queued import is_queued
from cspsearch.trials.queued import run_cells
from cspsearch.trials.queued import shared
from cspsearch.trials.recovery import counted_trials
from cspsearch.trials.reference import settle_scale
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.study import CATCH
from cspsearch.trials.study import check_early_stop
from cspsearch.trials.study import join_study
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study
from cspsearch.trials.study import run_claimed
from cspsearch.trials.study import run_study
from cspsearch.trials.workers import WORKER_ID
from cspsearch.trials.workers import Claim
from cspsearch.trials.workers import can_fork
from cspsearch.trials.workers import check_storage
from cspsearch.trials.workers import choose_workers
from cspsearch.trials.workers import cpu_threads
from cspsearch.trials.workers import describe_exit
from cspsearch.trials.workers import device_for
from cspsearch.trials.workers import fork
from cspsearch.trials.workers import spawn
from cspsearch.trials.workers import split
from cspsearch.trials.workers import worker_args


@dataclass(frozen=True)
class RunOptions:
    """How trials run, wherever they run."""

    device: str = "auto"
    artifacts: Path = DEFAULT_ARTIFACTS
    timeout: float | None = None  # seconds for the whole run
    trial_timeout: float | None = None  # seconds per trial
    early_stop: bool = False  # successive halving over Pareto dominance (early_stop.py)
    # concurrent trials (worker processes) per GPU, or on the CPU; "auto": per_device.py
    trials_per_device: int | str = "auto"
    gradients: bool = False  # record gradient duplication per stage (measure/gradients.py)
    cuda_graphs: bool = True  # on CUDA, each training step as one CUDA graph (training/graphs.py)
    keep_weights: bool = True  # each trained trial's final weights go with its artifacts


def open_run(
    space: SearchSpace,
    *,
    storage: str | None,
    name: str,
    sampler: optuna.samplers.BaseSampler,
    options: RunOptions,
) -> tuple[optuna.Study, optuna.storages.BaseStorage]:
    """Load the data (a missing dataset is an error before anything is written), then open
    the storage and create or resume study ``name``."""
    load_data(space, options.device)
    opened = open_storage(storage)  # only now is anything written
    return open_study(space, opened, name, sampler, *rules.marks(options)), opened


def execute(
    study: optuna.Study,
    space: SearchSpace,
    *,
    storage: str | None,
    target: int,
    todo: int,
    exact: bool,
    n_workers: int | None,
    seed: int | None,
    options: RunOptions,
    progress: bool,
) -> list[int]:
    """Run ``todo`` trials of ``study`` here or in local workers; the workers' exit codes.

    ``target``: the trials the study should hold, recorded as ``n_trials`` (workers that join
    later read it). ``exact``: run exactly ``todo`` trials (an ablation's queued cells) rather
    than until the study holds ``target`` counted trials (a search, where a failed trial is
    replaced)."""
    study.set_user_attr("n_trials", target)
    workers = choose_workers(n_workers, options, todo)
    if workers <= 1 or todo == 0:
        total, quota = (None, todo) if exact else (target, None)
        run_trials(study, space, total=total, quota=quota, options=options, live=progress)
        return []
    shared = check_storage(storage, workers)
    settle_scale(study, space, options.device)  # latency_ort's scale: one for all workers
    return run_workers(
        study.study_name, storage=shared, seed=seed, options=options, todo=todo, workers=workers
    )


def run_workers(
    name: str, *, storage: str, seed: int | None, options: RunOptions, todo: int, workers: int
) -> list[int]:
    """Run ``todo`` trials of study ``name`` in ``workers`` local processes, forked from this
    one where that is safe, else ``cspsearch worker`` processes (workers.py); their exit codes,
    each non-zero one reported."""
    if todo <= 0:
        return []
    workers = min(workers, todo)
    if can_fork(options.device, workers):
        codes = fork(functools.partial(_forked, name, storage, seed, options), workers, todo)
    else:
        codes = spawn(worker_args(name, storage, seed, options), split(todo, workers))
    for i, c in enumerate(codes):
        if c:
            out.console.print(f"[red]{describe_exit(i, c)}[/red]", highlight=False)
    return codes


def _forked(
    name: str, storage: str, seed: int | None, options: RunOptions, index: int, claim: Claim
) -> int:
    """A forked worker's ``work``; its exit code as ``cspsearch worker``'s (2 or 130)."""
    try:
        work(name, storage, quota=None, seed=seed, options=options, claim=claim)
    except CspSearchError as exc:
        out.console.print(f"[red]error: {escape(str(exc))}[/red]", highlight=False)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def work(
    study_name: str,
    storage: str,
    *,
    quota: int | None,
    seed: int | None,
    options: RunOptions,
    claim: Claim | None = None,
) -> None:
    """``cspsearch worker``: join a study and run trials (``quota``, or one per true claim)."""
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
    rules.check_fingerprint(study_name, stored, space, options)
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
    options = device_for(index, replace(options, **shared(stored)))  # e.g. an ablation's
    prefix = f"[worker {index}] "
    run_trials(
        study, space, total=None, quota=quota, options=options, live=False, prefix=prefix,
        claim=claim,
    )  # fmt: skip


def run_trials(
    study: optuna.Study,
    space: SearchSpace,
    *,
    total: int | None,
    quota: int | None,
    options: RunOptions,
    live: bool,
    prefix: str = "",
    claim: Claim | None = None,
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
            cuda_graphs=options.cuda_graphs,
            keep_weights=options.keep_weights,
        )
        timeout = options.timeout or space.timeout
        if is_queued(study.user_attrs):  # an ablation's cells: claimed, never sampled
            joined = claim is None and total is None and quota is None
            calls = [progress.on_trial]
            run_cells(study, objective, timeout, calls, joined=joined, catch=CATCH, prefix=prefix)
        elif claim is not None:
            run_claimed(study, objective, claim, timeout, [progress.on_trial])
        elif total is None and quota is None:
            join_study(study, objective, timeout, [progress.on_trial])
        else:
            run_study(study, objective, total or 0, timeout, [progress.on_trial], quota=quota)


def load_data(space: SearchSpace, device: str) -> None:
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
