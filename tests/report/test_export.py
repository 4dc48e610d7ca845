from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd
import pytest
from typer.testing import CliRunner

from cspsearch.cli import app

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def study(tiny_space_file: Path, storage_url: str) -> str:
    invoke("run", "--space", str(tiny_space_file), "--storage", storage_url, "--n-trials", "3")
    return storage_url


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_table_has_one_row_per_trial(study: str, tmp_path: Path, fmt: str) -> None:
    path = Path(
        invoke(
            "export",
            "tiny",
            "--storage",
            study,
            "--format",
            fmt,
            "--out",
            str(tmp_path / f"t.{fmt}"),
        )
    )
    frame = {
        "csv": pd.read_csv,
        "parquet": pd.read_parquet,
        "json": lambda p: pd.read_json(p, orient="records"),
    }[fmt](path)
    trials = optuna.load_study(study_name="tiny", storage=study).trials
    assert len(frame) == 3 and list(frame["number"]) == [0, 1, 2]
    assert list(frame["values_val_accuracy"]) == pytest.approx([t.values[0] for t in trials])
    assert list(frame["user_attrs_macs"]) == [t.user_attrs["macs"] for t in trials]
    assert "params_fusion" in frame
    # Nested attributes travel as JSON text.
    assert json.loads(frame["user_attrs_config"][0])["model"]["stem_width"] == 8


def test_best_architecture_re_runs_to_the_same_result(study: str, tmp_path: Path) -> None:
    paths = invoke(
        "export", "tiny", "--storage", study, "--best", "2", "--out-dir", str(tmp_path)
    ).splitlines()
    assert len(paths) == 2 and all(Path(p).parent == tmp_path for p in paths)
    original = optuna.load_study(study_name="tiny", storage=study)
    number = int(Path(paths[0]).stem.rsplit("trial", 1)[1])
    best = original.trials[number]
    # The first file is the most accurate architecture of the Pareto set.
    assert best.user_attrs["val_accuracy"] == max(
        t.user_attrs["val_accuracy"] for t in original.best_trials
    )
    invoke("run", "--space", paths[0], "--storage", study)
    rerun = optuna.load_study(study_name=Path(paths[0]).stem, storage=study).trials[0]
    # Training is deterministic on the CPU: the fixed space reproduces the trial exactly.
    assert rerun.params == {}
    assert rerun.user_attrs["val_accuracy"] == best.user_attrs["val_accuracy"]
    assert rerun.user_attrs["macs"] == best.user_attrs["macs"]
