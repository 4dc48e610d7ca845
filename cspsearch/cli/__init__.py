"""Command line (typer): one thin module per command group over the package's steps.

app.py holds the app and the error handling; importing this package registers every command.
"""

from __future__ import annotations

import importlib

import typer

from cspsearch.cli.app import Precision
from cspsearch.cli.app import Sampler
from cspsearch.cli.app import app

__all__ = ["Precision", "Sampler", "app", "main"]

# Importing a command module registers its commands; --help lists them in this order.
for _module in ("run", "ablate", "report", "model", "spaces", "bench"):
    importlib.import_module(f"cspsearch.cli.{_module}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # outside a command's own handling (imports, shutdown)
        typer.secho("interrupted", fg="yellow", err=True)
        raise SystemExit(130) from None
