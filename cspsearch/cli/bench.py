"""``cspsearch bench``: trial speed and search efficiency as side-by-side ratios."""

from __future__ import annotations

from pathlib import Path

import typer

from cspsearch.cli.app import app
from cspsearch.cli.app import user_errors


@app.command()
def bench(
    quick: bool = typer.Option(
        False, "--quick", help="Smaller studies and grid: under 10 minutes on a 2-core CPU."
    ),
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
