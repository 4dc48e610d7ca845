"""``cspsearch report``, ``dashboard`` and ``export``: what a person reads from a storage."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from cspsearch.cli.app import ARTIFACTS
from cspsearch.cli.app import app
from cspsearch.cli.app import user_errors


@app.command()
def report(
    studies: list[str] = typer.Argument(..., help="Study name; two or more are overlaid."),
    storage: str | None = typer.Option(None, help="Where the studies are (default as for run)."),
    out: Path | None = typer.Option(None, help="HTML file (default reports/STUDY[-vs-…].html)."),
    json_out: Path | None = typer.Option(
        None, "--json", help="An ablation study: also write its table rows to this JSON file."
    ),
    margin: float | None = typer.Option(
        None,
        help="Equivalence margin in points for the verdicts (default: an ablation study's own, "
        "else 1; 0: better / worse / undecided only).",
    ),
) -> None:
    """Write one self-contained HTML ablation report of a study (or several, side by side)."""
    with user_errors():
        from cspsearch.report import collect
        from cspsearch.report import report_path
        from cspsearch.report import write_report

        opened = _existing_studies(storage, studies)
        if margin is not None and not margin >= 0:
            from cspsearch.errors import SpaceError

            raise SpaceError(f"--margin: {margin} must be ≥ 0 points (0: no equivalence margin)")
        if len(studies) == 1 and _ablation_page(opened, studies[0], out, json_out, margin):
            return  # an ablation study (cspsearch ablate) has a page of its own
        if json_out is not None:
            from cspsearch.errors import SpaceError

            raise SpaceError("--json: only an ablation study (cspsearch ablate) has table rows")
        from cspsearch.stats import DEFAULT_MARGIN

        data = [collect(opened, name) for name in studies]
        chosen = DEFAULT_MARGIN if margin is None else margin
        typer.echo(str(write_report(data, out or report_path("-vs-".join(studies)), chosen)))


def _ablation_page(  # noqa: ANN001 (optuna)
    opened, name: str, out: Path | None, json_out: Path | None, margin: float | None
) -> bool:
    """Write the Table 1 page (and the rows) when ``name`` is an ablation study; else False."""
    from cspsearch.ablate.page import write_ablation_report
    from cspsearch.ablate.read import is_ablation
    from cspsearch.ablate.read import read_ablation
    from cspsearch.ablate.rows import write_json
    from cspsearch.report import report_path

    if not is_ablation(opened, name):
        return False
    data = read_ablation(opened, name, margin)
    typer.echo(str(write_ablation_report(data, out or report_path(name))))
    if json_out is not None:
        typer.echo(str(write_json(data, json_out)))
    return True


@app.command()
def dashboard(
    storage: str | None = typer.Option(None, help="Study storage (default as for run)."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (local only by default)."),
    port: int = typer.Option(8080, min=1, max=65535),
    artifacts: Path = typer.Option(ARTIFACTS, help="Folder of the per-trial artifacts."),
) -> None:
    """Serve the studies with optuna-dashboard (trials, plots, artifacts) until Ctrl-C."""
    with user_errors():
        from cspsearch.report.dashboard import serve
        from cspsearch.trials.study import open_storage

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
    onnx: Path | None = typer.Option(
        None, help="Instead of a table: the Pareto front (or --trials) as verified ONNX files."
    ),
    trials: str | None = typer.Option(None, help="With --onnx: these trials, e.g. 3,7,12."),
    artifacts: Path = typer.Option(ARTIFACTS, help="Folder of the kept weights (artifacts)."),
    latency_s: float = typer.Option(
        1.0, min=0.0, help="With --onnx: seconds to time each file in ONNX Runtime (0: untimed)."
    ),
    ort_threads: int | None = typer.Option(
        None, min=1, help="With --onnx: ONNX Runtime threads for that (default: the study's)."
    ),
) -> None:
    """Export a study: one row per trial, its best architectures as ready-to-run spaces, or
    its front as ONNX files checked in ONNX Runtime (docs/deploying.md)."""
    with user_errors():
        import optuna

        from cspsearch.report import collect
        from cspsearch.report.export import write_best
        from cspsearch.report.export import write_table
        from cspsearch.report.tables import safe_name

        numbers = _trial_numbers(trials, onnx)
        opened = _existing_studies(storage, [study])
        loaded = optuna.load_study(study_name=study, storage=opened)
        if onnx is not None:
            _export_onnx(loaded, onnx, numbers, artifacts, latency_s, ort_threads)
            return
        if best:
            for path in write_best(loaded, collect(opened, study), best, out_dir):
                typer.echo(str(path))
            return
        target = out or Path("reports") / f"{safe_name(study)}.{format.value}"
        typer.echo(str(write_table(loaded, format.value, target)))


def _trial_numbers(text: str | None, onnx: Path | None) -> list[int] | None:
    """``--trials 3,7,12`` as numbers (only with --onnx); SpaceError naming the bad value."""
    from cspsearch.errors import SpaceError
    from cspsearch.errors import require_deploy

    if onnx is None:
        if text is not None:
            raise SpaceError("--trials: only with --onnx DIR")
        return None
    require_deploy("--onnx")
    if text is None:
        return None
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 0:
        raise SpaceError(f"--trials: {text!r} must be trial numbers separated by commas")
    return numbers


def _export_onnx(study, folder: Path, numbers, artifacts: Path, latency_s, threads) -> None:  # noqa: ANN001
    """Write the ONNX files and their checks; exit code 1 when any of them failed."""
    from cspsearch.trials.artifacts import artifact_store
    from cspsearch.trials.deploy import export_study

    store = artifact_store(artifacts) if artifacts.is_dir() else None
    results = export_study(study, folder, numbers, store, latency_s, threads)
    for result in results:
        typer.echo(result.line(), err=result.path is None)
    if any(r.path is None for r in results):
        raise typer.Exit(1)


def _existing_studies(storage: str | None, names: list[str]):  # noqa: ANN202 (lazy optuna type)
    """Open ``storage`` for reading; StudyError unless every study in ``names`` is there."""
    import optuna

    from cspsearch.errors import StudyError
    from cspsearch.trials.study import DEFAULT_STORAGE
    from cspsearch.trials.study import list_studies
    from cspsearch.trials.study import open_storage

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
