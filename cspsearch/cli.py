"""Command line (typer): thin commands over space, study and report modules.

Heavy modules (torch, optuna, plotly) are imported inside the commands so ``--help`` is quick.
A user error ends with one line on stderr and exit code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import typer


class Sampler(StrEnum):  # kept equal to cspsearch.space.SAMPLERS by a test
    tpe = "tpe"
    nsga2 = "nsga2"
    gp = "gp"
    random = "random"
    grid = "grid"


class Precision(StrEnum):  # kept equal to cspsearch.configs.PRECISIONS by a test
    fp32 = "fp32"
    bf16 = "bf16"
    auto = "auto"


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Architecture search and ablation reports for CSPNet.",
)
spaces_app = typer.Typer(help="List the bundled search spaces, or show one.")
app.add_typer(spaces_app, name="spaces")
_state = {"debug": False}
ARTIFACTS = Path("reports/artifacts")  # kept equal to cspsearch.dashboard.DEFAULT_ARTIFACTS


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors.")) -> None:
    _state["debug"] = debug


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's errors into one line on stderr and exit code 2, and Ctrl-C into one
    line and exit code 130 (the running trial is already marked failed by then)."""
    from cspsearch.errors import CspSearchError

    try:
        yield
    except CspSearchError as exc:
        if _state["debug"]:
            raise
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.secho(
            "interrupted: the running trial is marked failed and will not count; "
            "re-run the same command to resume",
            fg="yellow",
            err=True,
        )
        raise typer.Exit(130) from None


@app.command()
def run(
    space: str = typer.Option(..., "--space", help="Bundled space name or path to a YAML file."),
    study_name: str | None = typer.Option(None, help="Default: the space name (+ overrides)."),
    storage: str | None = typer.Option(
        None, help="Optuna URL or Journal file path. Default: sqlite:///reports/cspsearch.db"
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
    n_workers: int = typer.Option(1, min=1, help="Worker processes on this machine."),
    trial_timeout: float | None = typer.Option(
        None, min=0.0, help="Fail a trial that runs longer than SEC."
    ),
    precision: Precision | None = typer.Option(
        None, help="Override train.precision: fp32, bf16 (autocast) or auto (bf16 if native)."
    ),
    early_stop: bool = typer.Option(
        False, "--early-stop", help="Stop trials dominated at epochs 1, 2, 4, … (halving)."
    ),
    trials_per_device: int = typer.Option(
        1, min=1, help="K concurrent trials (worker processes) per GPU, or on the CPU."
    ),
) -> None:
    """Search a space: build, count MACs, briefly train and record each trial."""
    with user_errors():
        from cspsearch import runner

        given = (
            ("epochs", epochs),
            ("seed", seed),
            ("seeds", seeds),
            ("precision", precision.value if precision else None),
        )
        options = runner.RunOptions(
            device, artifacts, timeout, trial_timeout, early_stop, trials_per_device
        )
        code = runner.run(
            space,
            {k: v for k, v in given if v is not None},
            study_name,
            storage,
            n_trials,
            sampler.value if sampler else None,
            seed,
            n_workers,
            options,
            data,
        )
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
    quota: int | None = typer.Option(None, min=0, hidden=True),
) -> None:
    """Join a study (from any machine) and run trials until it holds its target."""
    with user_errors():
        from cspsearch import runner

        options = runner.RunOptions(device, artifacts, timeout, trial_timeout, early_stop)
        runner.work(study, storage, quota, seed, options)


@app.command()
def report(
    studies: list[str] = typer.Argument(..., help="Study name; two or more are overlaid."),
    storage: str | None = typer.Option(None, help="Where the studies are (default as for run)."),
    out: Path | None = typer.Option(None, help="HTML file (default reports/STUDY[-vs-…].html)."),
) -> None:
    """Write one self-contained HTML ablation report of a study (or several, side by side)."""
    with user_errors():
        from cspsearch.report import collect
        from cspsearch.report import report_path
        from cspsearch.report import write_report

        opened = _existing_studies(storage, studies)
        data = [collect(opened, name) for name in studies]
        typer.echo(str(write_report(data, out or report_path("-vs-".join(studies)))))


@app.command()
def dashboard(
    storage: str | None = typer.Option(None, help="Study storage (default as for run)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (local only by default)."),
    port: int = typer.Option(8080, min=1, max=65535),
    artifacts: Path = typer.Option(ARTIFACTS, help="Folder of the per-trial artifacts."),
) -> None:
    """Serve the studies with optuna-dashboard (trials, plots, artifacts) until Ctrl-C."""
    with user_errors():
        from cspsearch.dashboard import serve
        from cspsearch.study import open_storage

        opened = open_storage(storage, must_exist=True)
        typer.echo(f"optuna-dashboard on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
        serve(opened, host, port, artifacts)


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    json = "json"


@app.command()
def export(
    study: str = typer.Argument(..., help="Study name."),
    storage: str | None = typer.Option(None, help="Where the study is (default as for run)."),
    format: ExportFormat = typer.Option(ExportFormat.csv, help="Table format."),
    out: Path | None = typer.Option(None, help="Table file (default reports/STUDY.FORMAT)."),
    best: int | None = typer.Option(
        None, min=1, help="Instead of a table: the K best architectures as space files."
    ),
    out_dir: Path = typer.Option(Path("reports/best"), help="Folder of the --best files."),
) -> None:
    """Export a study: one row per trial, or its best architectures as ready-to-run spaces."""
    with user_errors():
        import optuna

        from cspsearch.export import write_best
        from cspsearch.export import write_table
        from cspsearch.report import collect
        from cspsearch.report.tables import safe_name

        opened = _existing_studies(storage, [study])
        loaded = optuna.load_study(study_name=study, storage=opened)
        if best:
            for path in write_best(loaded, collect(opened, study), best, out_dir):
                typer.echo(str(path))
            return
        target = out or Path("reports") / f"{safe_name(study)}.{format.value}"
        typer.echo(str(write_table(loaded, format.value, target)))


def _existing_studies(storage: str | None, names: list[str]):  # noqa: ANN202 (lazy optuna type)
    """Open ``storage`` for reading; StudyError unless every study in ``names`` is there."""
    import optuna

    from cspsearch.errors import StudyError
    from cspsearch.study import DEFAULT_STORAGE
    from cspsearch.study import list_studies
    from cspsearch.study import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    opened = open_storage(storage, must_exist=True)
    found = list_studies(opened)
    for name in names:
        if name not in found:
            raise StudyError(
                f"no study {name!r} in {storage or DEFAULT_STORAGE} "
                f"(studies: {', '.join(found) or 'none'})"
            )
    return opened


model_app = typer.Typer(help="Named architectures, and what one costs.")
app.add_typer(model_app, name="model")


@model_app.command("list")
def model_list() -> None:
    """The named architectures (timm's reference configs)."""
    from cspsearch.models.presets import PRESETS

    for name, (cfg, size) in PRESETS.items():
        typer.echo(
            f"{name:<14} {cfg.family:<12} {cfg.num_stages} stages, fusion "
            f"{'/'.join(sorted(set(cfg.fusion)))}, {size}×{size}"
        )


@model_app.command("ablation")
def model_ablation(
    json_out: bool = typer.Option(False, "--json", help="A JSON list of rows instead of a table."),
) -> None:
    """The CSPNet paper's PeleeNet ablation in compute: each CSP variant against PeleeNet."""
    import json
    from dataclasses import asdict

    from cspsearch.models.ablation import ablation_rows
    from cspsearch.models.ablation import format_rows

    rows = ablation_rows()
    typer.echo(json.dumps([asdict(r) for r in rows]) if json_out else format_rows(rows))


@model_app.command("show")
def model_show(
    name: str = typer.Argument(..., help="A preset (cspsearch model list) or a space file."),
    input_size: int | None = typer.Option(None, min=8, help="Default: the preset's or space's."),
    classes: int | None = typer.Option(None, min=1, help="Default: 1000 (presets), 10 (files)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object instead of a table."),
    latency: bool = typer.Option(True, help="Time it too (ImageNet sizes take a while on CPU)."),
) -> None:
    """Parameters, MACs, FLOPs, activations, latency and MACs per stage of one architecture."""
    with user_errors():
        import json
        from dataclasses import asdict

        from cspsearch.latency import measure_latency
        from cspsearch.macs import count_macs
        from cspsearch.models import build_model
        from cspsearch.models.presets import resolve
        from cspsearch.objective import pick_device

        label, cfg, size = resolve(name, input_size, classes)
        model = build_model(cfg)
        report = count_macs(model, size, cfg.in_chans)
        device = pick_device("auto")
        timed = measure_latency(model.to(device), size, cfg.in_chans, device) if latency else {}
        if json_out:
            shown = {
                "name": label,
                "family": cfg.family,
                "num_classes": cfg.num_classes,
                **asdict(report),
                "device": device,
                **timed,
            }
            typer.echo(json.dumps(shown))
            return
        typer.echo(f"{label} ({cfg.family}) at {size}×{size}, {cfg.num_classes} classes")
        typer.echo(f"params {report.params:,} ({report.params_no_bn:,} without BatchNorm)")
        typer.echo(
            f"MACs {report.macs / 1e9:.3f} G, FLOPs {report.flops / 1e9:.3f} G "
            "(fvcore: 1 multiply-add = 1 MAC; FLOPs = 2 × MACs)"
        )
        typer.echo(f"activations {report.activations:,} (fvcore)")
        if timed:
            typer.echo(
                f"latency on {device}: {timed['latency']:.2f} ms at batch 1, "
                f"{timed['latency_b32']:.2f} ms at batch 32 (median)"
            )
        for part, macs in report.by_stage.items():
            typer.echo(f"  {part:<10} {macs / 1e6:>12,.2f} MMACs {100 * macs / report.macs:6.1f}%")


@spaces_app.callback(invoke_without_command=True)
def spaces(ctx: typer.Context) -> None:
    """List the bundled search spaces with their sizes."""
    if ctx.invoked_subcommand is not None:
        return
    from cspsearch.space_file import bundled_spaces
    from cspsearch.space_file import load_space

    for name in bundled_spaces():
        space = load_space(name)
        typer.echo(f"{name:<20} {_size(space.size()):>14}  {space.description.splitlines()[0]}")


@spaces_app.command("show")
def spaces_show(name: str = typer.Argument(..., help="Bundled space name or path.")) -> None:
    """Print a space file and its size."""
    with user_errors():
        from cspsearch.space_file import load_space

        space = load_space(name)
        typer.echo(f"# {space.source}")
        typer.echo(Path(space.source).read_text(encoding="utf-8").rstrip())
        searched = ", ".join(space.searched()) or "nothing"
        typer.echo(f"# searched: {searched}")
        typer.echo(f"# size: {_size(space.size())}")


def _size(size: int | None) -> str:
    return "continuous" if size is None else f"{size:,} combinations"


data_app = typer.Typer(help="Datasets: generate the synthetic detection data.")
app.add_typer(data_app, name="data")


@data_app.command("make-shapes")
def data_make_shapes(
    out_dir: Path = typer.Argument(..., help="New (or empty) folder to write."),
    images: int = typer.Option(800, min=1, help="Number of images."),
    size: int = typer.Option(64, min=32, max=1024, help="Image side in pixels."),
    seed: int = typer.Option(0, min=0, help="Same seed, same dataset."),
) -> None:
    """Write a synthetic shapes detection dataset: PNG images + annotations.json (COCO)."""
    with user_errors():
        import json

        from cspsearch.detection.shapes import make_shapes

        path = make_shapes(out_dir, images, size, seed)
        objects = len(json.loads(path.read_text(encoding="utf-8"))["annotations"])
        typer.echo(f"{path}: {images} images, {objects} objects")


@app.command()
def bench(
    quick: bool = typer.Option(False, "--quick", help="Smaller study and grid (minutes)."),
    out: Path = typer.Option(
        Path("benchmarks/results/bench.json"), help="JSON file; the markdown table beside it."
    ),
    device: str = typer.Option("auto", help="auto (CUDA when present), cpu, cuda, cuda:K."),
) -> None:
    """Measure trial speed and search efficiency, each figure a side-by-side ratio."""
    with user_errors():
        from cspsearch.bench import FULL
        from cspsearch.bench import QUICK
        from cspsearch.bench import run_bench

        for path in run_bench(QUICK if quick else FULL, out, device):
            typer.echo(str(path))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # outside a command's own handling (imports, shutdown)
        typer.secho("interrupted", fg="yellow", err=True)
        raise SystemExit(130) from None
