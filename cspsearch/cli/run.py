"""``cspsearch run`` and ``cspsearch worker``: thin commands over cspsearch.trials.run."""

from __future__ import annotations

from pathlib import Path

import typer

from cspsearch.cli.app import ARTIFACTS
from cspsearch.cli.app import Precision
from cspsearch.cli.app import Sampler
from cspsearch.cli.app import app
from cspsearch.cli.app import user_errors


@app.command()
def run(
    space: str = typer.Option(..., "--space", help="Bundled space name or path to a YAML file."),
    study_name: str | None = typer.Option(None, help="Default: the space name (+ overrides)."),
    storage: str | None = typer.Option(
        None,
        help="Optuna URL or Journal file path. Default: sqlite:///reports/cspsearch.db "
        "(local workers share it)",
    ),
    n_trials: int | None = typer.Option(
        None, min=1, help="Counted trials the study should hold (default: study.n_trials)."
    ),
    timeout: float | None = typer.Option(None, min=0.0, help="Stop starting trials after SEC."),
    sampler: Sampler | None = typer.Option(None, help="Default: the space's study.sampler."),
    epochs: int | None = typer.Option(None, min=1, help="Override train.epochs."),
    seed: int | None = typer.Option(None, min=0, help="Override train.seed and seed the sampler."),
    seeds: int | None = typer.Option(
        None, min=1, help="Train each architecture K times (seeds seed…seed+K−1); score = mean."
    ),
    device: str = typer.Option("auto", help="auto (CUDA when present), cpu, cuda, cuda:K."),
    artifacts: Path = typer.Option(ARTIFACTS, help="Folder of the per-trial artifacts."),
    data: str | None = typer.Option(
        None, help="Dataset NAME[:PATH]: digits, cifar10:DIR, cifar100:DIR, imagefolder:DIR."
    ),
    n_workers: int | None = typer.Option(
        None,
        min=1,
        help="Worker processes on this machine. Default: on a CPU one single-threaded worker "
        "per core ($CSPSEARCH_N_WORKERS overrides), on a GPU 1.",
    ),
    trial_timeout: float | None = typer.Option(
        None, min=0.0, help="Fail a trial that runs longer than SEC."
    ),
    precision: Precision | None = typer.Option(
        None, help="Override train.precision: fp32, bf16 (autocast) or auto (bf16 if native)."
    ),
    early_stop: bool = typer.Option(
        False, "--early-stop", help="Stop trials dominated at epochs 1, 2, 4, … (halving)."
    ),
    trials_per_device: str = typer.Option(
        "auto",
        help="K concurrent trials (worker processes) per GPU, or on the CPU; auto: on CUDA "
        "from a probe of one trial, elsewhere as --n-workers decides (docs/speed.md).",
    ),
    cuda_graphs: bool = typer.Option(
        True, help="On CUDA, each training step as one captured CUDA graph (off: eager steps)."
    ),
    gradients: bool = typer.Option(
        False, "--gradients", help="Record gradient duplication per stage (4 extra batches)."
    ),
    keep_weights: bool = typer.Option(
        True, help="Keep each trained trial's final weights with its artifacts (for export)."
    ),
) -> None:
    """Search a space: build, count MACs, briefly train and record each trial."""
    with user_errors():
        from cspsearch.report.dashboard import publish_figures
        from cspsearch.trials import progress as out
        from cspsearch.trials.per_device import parse_trials_per_device
        from cspsearch.trials.run import RunOptions
        from cspsearch.trials.run import run_search

        given = (
            ("epochs", epochs),
            ("seed", seed),
            ("seeds", seeds),
            ("precision", precision.value if precision else None),
        )
        options = RunOptions(
            device=device,
            artifacts=artifacts,
            timeout=timeout,
            trial_timeout=trial_timeout,
            early_stop=early_stop,
            trials_per_device=parse_trials_per_device(trials_per_device),
            gradients=gradients,
            cuda_graphs=cuda_graphs,
            keep_weights=keep_weights,
        )
        done = run_search(
            space,
            n_trials=n_trials,
            storage=storage,
            study_name=study_name,
            sampler=sampler.value if sampler else None,
            seed=seed,
            n_workers=n_workers,
            data=data,
            overrides={k: v for k, v in given if v is not None},
            options=options,
        )
        publish_figures(done.study, done.storage)  # shown by optuna-dashboard
        out.console.print(out.summary(done.study), highlight=False)
        storage_arg = f" --storage {storage}" if storage else ""
        out.console.print(
            f"report: cspsearch report {done.study.study_name}{storage_arg}", highlight=False
        )
        code = 1 if any(done.worker_codes) else 0
    raise typer.Exit(code)


@app.command()
def worker(
    study: str = typer.Option(..., "--study", help="Name of the study to join."),
    storage: str = typer.Option(..., help="The study's storage (Journal file or PostgreSQL)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda, cuda:K."),
    seed: int | None = typer.Option(None, min=0, help="Seed of this worker's sampler."),
    timeout: float | None = typer.Option(None, min=0.0, help="Stop starting trials after SEC."),
    trial_timeout: float | None = typer.Option(None, min=0.0, help="Fail trials past SEC."),
    artifacts: Path = typer.Option(ARTIFACTS, help="Folder of the per-trial artifacts."),
    early_stop: bool = typer.Option(
        False, "--early-stop", help="Stop trials dominated at epochs 1, 2, 4, … (halving)."
    ),
    gradients: bool = typer.Option(
        False, "--gradients", help="Record gradient duplication per stage (4 extra batches)."
    ),
    keep_weights: bool = typer.Option(
        True, help="Keep each trained trial's final weights with its artifacts (for export)."
    ),
    cuda_graphs: bool = typer.Option(
        True, help="On CUDA, each training step as one captured CUDA graph (off: eager steps)."
    ),
    quota: int | None = typer.Option(None, min=0, hidden=True),
) -> None:
    """Join a study (from any machine) and run trials until it holds its target. An ablation
    study: run only its queued cells, round by round, until the ablation ends (it sets
    --gradients)."""
    with user_errors():
        from cspsearch.trials.run import RunOptions
        from cspsearch.trials.run import work

        options = RunOptions(
            device=device,
            artifacts=artifacts,
            timeout=timeout,
            trial_timeout=trial_timeout,
            early_stop=early_stop,
            cuda_graphs=cuda_graphs,
            gradients=gradients,
            keep_weights=keep_weights,
        )
        work(study, storage, quota=quota, seed=seed, options=options)
