"""The typer app every command module registers on, and the one way a command ends in error.

A user error ends with one line on stderr and exit code 2; ``--debug`` shows the traceback.
Heavy modules (torch, optuna, plotly) are imported inside the commands so ``--help`` is quick.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import typer

from cspsearch.space.configs import PRECISIONS
from cspsearch.space.configs import SAMPLERS

# The CLI's choices, built from the only copy of each name (cspsearch/space/configs.py).
Sampler = StrEnum("Sampler", {name: name for name in SAMPLERS})
Precision = StrEnum("Precision", {name: name for name in PRECISIONS})
ARTIFACTS = Path("reports/artifacts")  # equal to search.artifacts.DEFAULT_ARTIFACTS (a test)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Architecture search and ablation reports for CSPNet.",
)
_state = {"debug": False}


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
