"""``cspsearch ablate``: a thin command over cspsearch.ablate (run.py), then its tables, page."""

from __future__ import annotations

from pathlib import Path

import typer

from cspsearch.cli.app import ARTIFACTS
from cspsearch.cli.app import app
from cspsearch.cli.app import user_errors


@app.command()
def ablate(
    study: str | None = typer.Argument(None, help="Study whose best architectures to ablate."),
    space: str | None = typer.Option(
        None, "--space", help="Instead of a study: a fixed base (space file or preset)."
    ),
    storage: str | None = typer.Option(None, help="Where the studies are (default as for run)."),
    top: int = typer.Option(3, min=1, help="The K best Pareto architectures of STUDY."),
    trial: list[int] | None = typer.Option(None, "--trial", help="These trials instead."),
    seeds: str = typer.Option(
        "3", help="Seeds per variant (paired across variants), or auto: in rounds until decided."
    ),
    min_seeds: int | None = typer.Option(None, help="--seeds auto: seeds of round 1 (3)."),
    max_seeds: int | None = typer.Option(None, help="--seeds auto: at most this many (10)."),
    margin: float | None = typer.Option(
        None, help="Equivalence margin in points (default 1); changing it re-analyses only."
    ),
    epochs: int | None = typer.Option(None, min=1, help="Override train.epochs."),
    fusion: str | None = typer.Option(
        None, help="Fusions of the grid (none is added). Default: every CSP fusion."
    ),
    split_ratio: str | None = typer.Option(
        None, help="γ values of the grid, in (0, 1). Default: the grid's (0.25, 0.5, 0.75)."
    ),
    block: str | None = typer.Option(
        None, help="Instead of fusion × γ: these blocks on a csp_yolo base, e.g. c3,c2f,elan."
    ),
    n_workers: int | None = typer.Option(
        None, min=1, help="Worker processes (default: one per core on a CPU, 1 on a GPU)."
    ),
    trials_per_device: str = typer.Option(
        "auto",
        help="K concurrent trials (worker processes) per GPU, or on the CPU; auto: on CUDA "
        "from a probe of one trial, elsewhere as --n-workers decides (docs/speed.md).",
    ),
    cuda_graphs: bool = typer.Option(
        True, help="On CUDA, each training step as one captured CUDA graph (off: eager steps)."
    ),
    study_name: str | None = typer.Option(None, help="Default: STUDY-ablation / NAME-ablation."),
    device: str = typer.Option("auto", help="auto (CUDA when present), cpu, cuda, cuda:K."),
    artifacts: Path = typer.Option(ARTIFACTS, help="Folder of the per-trial artifacts."),
    trial_timeout: float | None = typer.Option(None, min=0.0, help="Fail trials past SEC."),
    gradients: bool = typer.Option(
        True, "--gradients/--no-gradients", help="Record gradient duplication per trial."
    ),
    out: Path | None = typer.Option(None, help="HTML file (default reports/STUDY-ablation.html)."),
    json_out: Path | None = typer.Option(
        None, "--json", help="Also write every table row to this JSON file (notebooks, CI)."
    ),
) -> None:
    """Controlled CSP ablation: every fusion × γ (and none) on a few fixed bases, S seeds each;
    for a detection study, the necks fpn/gfm/efm and EFM's options on the fixed backbone.

    Verdicts (docs/verdicts.md): a paired t-test per row, its sd floored at one validation
    image / √6; each table one family, α 0.05 / k over its k rows. Fewest seeds that can reach
    a verdict at ±1 pp, for tables of 1 / 9 / 27 rows, with identical differences (then with
    per-seed sd 1 pp): equivalent (Δ 0) 2/3/4 (5/11/13); non-inferior (Δ +1) 2/3/3 (3/5/7);
    better or worse (Δ ±1) 3/4/4 (7/12/15)."""
    with user_errors():
        from cspsearch.ablate.page import write_ablation_report
        from cspsearch.ablate.read import read_ablation
        from cspsearch.ablate.run import ablate as run_ablation
        from cspsearch.ablate.run import check_options
        from cspsearch.ablate.run import choose_grid
        from cspsearch.ablate.sources import from_space
        from cspsearch.ablate.sources import from_study
        from cspsearch.ablate.text import format_study
        from cspsearch.errors import SpaceError
        from cspsearch.report import report_path
        from cspsearch.trials import progress as console
        from cspsearch.trials.execute import RunOptions
        from cspsearch.trials.per_device import parse_trials_per_device
        from cspsearch.trials.study import open_storage
        from cspsearch.trials.workers import check_storage

        if (study is None) == (space is None):
            raise SpaceError("give a STUDY or --space FILE|PRESET (one of them)")
        fusions = None if fusion is None else _words(fusion)
        ratios = None if split_ratio is None else _numbers(split_ratio)
        blocks = None if block is None else _words(block)
        rule, count = seeding(seeds, min_seeds, max_seeds, margin)
        check_options(fusions=fusions, ratios=ratios, blocks=blocks, seeds=count)  # first
        if n_workers is not None:
            check_storage(storage, n_workers)  # before any training
        options = RunOptions(
            device=device,
            artifacts=artifacts,
            trial_timeout=trial_timeout,
            trials_per_device=parse_trials_per_device(trials_per_device),
            gradients=gradients,
            cuda_graphs=cuda_graphs,
        )
        if study is not None:
            source = from_study(open_storage(storage, must_exist=True), study, top, trial)
        else:
            source = from_space(space or "")
        grid = choose_grid(source, fusions=fusions, ratios=ratios, blocks=blocks, seeds=count)
        done = run_ablation(
            source, grid, storage=storage, study_name=study_name, epochs=epochs,
            n_workers=n_workers, options=options, rule=rule,
        )  # fmt: skip
        name = done.study.study_name
        data = read_ablation(done.storage, name)
        typer.echo(format_study(data))
        path = write_ablation_report(data, out or report_path(name))
        console.console.print(f"report: {path}", highlight=False)
        if json_out is not None:
            from cspsearch.ablate.rows import write_json

            console.console.print(f"rows: {write_json(data, json_out)}", highlight=False)
        code = 1 if any(done.worker_codes) else 0
    raise typer.Exit(code)


def seeding(
    seeds: str, min_seeds: int | None, max_seeds: int | None, margin: float | None
) -> tuple:  # (Rule, seeds the grid covers)
    """``--seeds N|auto``, ``--min-seeds``, ``--max-seeds`` and ``--margin`` as a Rule and the
    seed count of the grid (N, or the maximum for auto); SpaceError for a bad combination."""
    from cspsearch.ablate.tables import Rule
    from cspsearch.errors import SpaceError
    from cspsearch.stats import DEFAULT_MARGIN

    if margin is not None and not margin >= 0:
        raise SpaceError(f"--margin: {margin} must be ≥ 0 points (0: no equivalence margin)")
    chosen = DEFAULT_MARGIN if margin is None else margin
    if seeds != "auto":
        if not seeds.isdigit() or int(seeds) < 1:
            raise SpaceError(f"--seeds: {seeds!r} must be a whole number ≥ 1, or auto")
        if min_seeds is not None or max_seeds is not None:
            raise SpaceError(
                f"--min-seeds/--max-seeds: only with --seeds auto (--seeds is {seeds})"
            )
        return Rule(margin=chosen), int(seeds)
    low, high = min_seeds or 3, max_seeds or 10
    if low < 2 or high < low:
        raise SpaceError(
            f"--min-seeds {low} / --max-seeds {high}: need 2 ≤ --min-seeds ≤ --max-seeds"
        )
    return Rule(margin=chosen, min_seeds=low, max_seeds=high), high


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _numbers(text: str) -> list[float]:
    from cspsearch.errors import SpaceError

    try:
        return [float(w) for w in _words(text)]
    except ValueError:
        raise SpaceError(
            f"--split-ratio: {text!r} must be numbers in (0, 1), e.g. 0.25,0.5"
        ) from None
