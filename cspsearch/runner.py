"""What ``cspsearch run`` and ``cspsearch worker`` do, between the CLI and the study modules:
open the study, run trials here or in worker processes, print progress and the summary."""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna

from cspsearch import console as out
from cspsearch.dashboard import artifact_store
from cspsearch.dashboard import publish_figures
from cspsearch.errors import StudyError
from cspsearch.recovery import counted_trials
from cspsearch.space import SearchSpace
from cspsearch.space_file import load_space
from cspsearch.space_file import override_data
from cspsearch.space_file import override_train
from cspsearch.space_file import space_from_dict
from cspsearch.study import default_study_name
from cspsearch.study import join_study
from cspsearch.study import make_sampler
from cspsearch.study import open_storage
from cspsearch.study import open_study
from cspsearch.study import run_study
from cspsearch.workers import WORKER_ID
from cspsearch.workers import check_storage
from cspsearch.workers import cpu_threads
from cspsearch.workers import describe_exit
from cspsearch.workers import spawn
from cspsearch.workers import split


@dataclass(frozen=True)
class RunOptions:
    """How trials run, wherever they run."""

    device: str = "auto"
    artifacts: Path = Path("reports/artifacts")
    timeout: float | None = None  # seconds for the whole run
    trial_timeout: float | None = None  # seconds per trial
    early_stop: bool = False  # successive halving over Pareto dominance (early_stop.py)
    trials_per_device: int = 1  # concurrent trials (worker processes) per GPU, or on the CPU


def run(
    space_arg: str,
    overrides: dict[str, Any],
    study_name: str | None,
    storage: str | None,
    n_trials: int | None,
    sampler: str | None,
    seed: int | None,
    n_workers: int,
    options: RunOptions,
    data: str | None = None,
) -> int:
    """``cspsearch run``; returns the exit code (1 when a worker did not finish)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead
    space = override_train(load_space(space_arg), **overrides)
    if data:
        space = override_data(space, data)
        overrides = {**overrides, "data": data.partition(":")[0]}
    name = study_name or default_study_name(space.name, overrides)
    _check_data(space, options)
    n_workers = _workers_for(n_workers, options)
    if n_workers > 1:
        check_storage(storage, n_workers)
    chosen = make_sampler(sampler or space.sampler, seed, space, n_workers > 1)  # may refuse
    opened = open_storage(storage)  # only now is anything written
    study = open_study(space, opened, name, chosen)
    study.set_user_attr("sampler", sampler or space.sampler)
    if space.baseline_first and not study.trials and space.baseline_params():
        study.enqueue_trial(space.baseline_params())  # every study gets its reference point
    total = n_trials or space.n_trials
    todo = max(0, total - counted_trials(study))
    out.console.print(
        f"study {name}: {todo} trial(s) to run ({total} wanted, {total - todo} "
        f"done) · space {space.source}",
        highlight=False,
    )
    code = 0
    if n_workers > 1:
        study.set_user_attr("n_trials", total)
        args = _worker_args(name, storage or "", seed, options)
        codes = spawn(args, split(todo, n_workers))
        for i, c in enumerate(codes):
            if c:
                out.console.print(f"[red]{describe_exit(i, c)}[/red]", highlight=False)
        code = 1 if any(codes) else 0
    else:
        _run_trials(study, space, total, None, options, live=True)
    publish_figures(study, opened)  # shown by optuna-dashboard
    out.console.print(out.summary(study), highlight=False)
    storage_arg = f" --storage {storage}" if storage else ""
    out.console.print(f"report: cspsearch report {name}{storage_arg}", highlight=False)
    return code


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
    if storage.startswith("sqlite"):
        out.console.print(
            "[yellow]warning[/yellow]: SQLite takes one writer; several workers "
            "on it fail with 'database is locked'",
            highlight=False,
        )
    space = space_from_dict(stored["space"])
    if space.fingerprint() != stored.get("space_fingerprint"):
        raise StudyError(f"study {study_name!r}: its stored space does not match its fingerprint")
    index = int(os.environ.get(WORKER_ID, "0"))
    threads = cpu_threads()
    if threads is not None:  # the workers of one machine share its cores
        import torch

        torch.set_num_threads(threads)
    base_seed = seed if seed is not None else 0
    sampler = make_sampler(
        stored.get("sampler", "tpe"), base_seed + 1000 * (index + 1), space, parallel=True
    )  # a seed of its own: workers must not propose alike
    study = optuna.load_study(study_name=study_name, storage=opened, sampler=sampler)
    _run_trials(
        study,
        space,
        None,
        quota,
        _device_for(index, options),
        live=False,
        prefix=f"[worker {index}] ",
    )


def _run_trials(
    study: optuna.Study,
    space: SearchSpace,
    total: int | None,
    quota: int | None,
    options: RunOptions,
    live: bool,
    prefix: str = "",
) -> None:
    from cspsearch.early_stop import EarlyStop
    from cspsearch.objective import Objective  # torch: only where trials run

    runs_here = quota if quota is not None else max(0, (total or 0) - counted_trials(study))
    with out.RunProgress(runs_here, live=live, prefix=prefix) as progress:
        objective = Objective(
            space,
            options.device,
            on_epoch=progress.on_epoch,
            artifacts=artifact_store(options.artifacts),
            trial_timeout=options.trial_timeout,
            early_stop=EarlyStop() if options.early_stop else None,
        )
        timeout = options.timeout or space.timeout
        if total is None and quota is None:
            join_study(study, objective, timeout, [progress.on_trial])
        else:
            run_study(study, objective, total or 0, timeout, [progress.on_trial], quota=quota)


def _check_data(space: SearchSpace, options: RunOptions) -> None:
    """Load the dataset now (it is cached for the trials): a missing or corrupt one is a
    DataError before anything is written."""
    from cspsearch.objective import pick_device

    if space.is_detection and options.early_stop:
        raise StudyError(
            f"--early-stop: classification spaces only for now; {space.name} trains a detector"
        )
    if space.is_detection and space.train.get("seeds", 1) != 1:
        raise StudyError(
            f"--seeds / train.seeds: {space.train['seeds']}: a detector trains one seed per "
            "trial for now"
        )
    if space.is_detection:
        from cspsearch.detection.data import load_detection
        from cspsearch.errors import DataError

        try:
            load_detection(space.data, pick_device(options.device))
        except DataError as exc:  # name the space file and key that led to the data
            raise DataError(f"{space.source}: data.path: {exc}") from None
    else:
        from cspsearch.data import load_dataset

        load_dataset(space.data, pick_device(options.device))


def _worker_args(name: str, storage: str, seed: int | None, options: RunOptions) -> list[str]:
    args = [
        "--study",
        name,
        "--storage",
        storage,
        "--device",
        options.device,
        "--artifacts",
        str(options.artifacts),
    ]
    for flag, value in (
        ("--seed", seed),
        ("--timeout", options.timeout),
        ("--trial-timeout", options.trial_timeout),
    ):
        if value is not None:
            args += [flag, str(value)]
    return args + (["--early-stop"] if options.early_stop else [])


def _workers_for(n_workers: int, options: RunOptions) -> int:
    """Worker processes to start: ``--n-workers``, or ``--trials-per-device`` K per GPU (K on
    the CPU or one named device), so small models keep a GPU busy."""
    k = options.trials_per_device
    if k <= 1:
        return n_workers
    if n_workers > 1:
        raise StudyError("--n-workers and --trials-per-device: give one of them, not both")
    return k * _gpu_count(options.device)


def _gpu_count(device: str) -> int:
    """GPUs the workers spread over: every visible one for ``auto``/``cuda``, else 1."""
    if device not in ("auto", "cuda"):
        return 1
    import torch

    return max(1, torch.cuda.device_count())


def _device_for(index: int, options: RunOptions) -> RunOptions:
    """With several GPUs and device auto (or cuda), worker i takes cuda:(i mod GPUs): with
    ``--trials-per-device K`` that is K workers on each GPU."""
    count = _gpu_count(options.device)
    if count > 1:
        return replace(options, device=f"cuda:{index % count}")
    return options
