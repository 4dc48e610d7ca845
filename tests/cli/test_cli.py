from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from cspsearch.cli import Sampler
from cspsearch.cli import app
from cspsearch.space.configs import SAMPLERS
from tests.conftest import write_space

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_run_then_report(tiny_space_file: Path, tmp_path: Path, storage_url: str) -> None:
    code, _, err = invoke(
        "run",
        "--space",
        str(tiny_space_file),
        "--storage",
        storage_url,
        "--n-trials",
        "2",
        "--sampler",
        "random",
    )
    assert code == 0, err
    assert "trial 0:" in err and "trial 1:" in err and "study tiny: 2 trials" in err
    assert len(optuna.load_study(study_name="tiny", storage=storage_url).trials) == 2
    out = tmp_path / "r.html"
    code, stdout, err = invoke("report", "tiny", "--storage", storage_url, "--out", str(out))
    assert code == 0, err
    assert stdout.strip() == str(out) and "Plotly.newPlot" in out.read_text(encoding="utf-8")


def test_overrides_name_a_separate_study(tiny_space_file: Path, storage_url: str) -> None:
    code, _, err = invoke(
        "run",
        "--space",
        str(tiny_space_file),
        "--storage",
        storage_url,
        "--n-trials",
        "1",
        "--epochs",
        "2",
        "--seed",
        "3",
    )
    assert code == 0, err
    study = optuna.load_study(study_name="tiny-epochs2-seed3", storage=storage_url)
    assert study.trials[0].user_attrs["config"]["train"] == {
        **study.trials[0].user_attrs["config"]["train"],
        "epochs": 2,
        "seed": 3,
    }


BAD_RUNS = [
    (["run", "--space", "nope"], "unknown space 'nope'"),
    (["run", "--space", "{tmp}/missing.yaml"], "missing.yaml: no such space file"),
    (["run", "--space", "{bad}"], "model.split_ratio: 2 must be in (0.0, 1.0)"),
    (["run", "--space", "{tiny}", "--storage", "nosuchdb://x"], "cannot open storage"),
    (["report", "nostudy", "--storage", "sqlite:///{tmp}/none.db"], "no study storage at"),
]


@pytest.mark.parametrize(("args", "message"), BAD_RUNS)
def test_bad_input_is_one_line_exit_2_nothing_written(
    tmp_path: Path, tiny_space_file: Path, args: list[str], message: str
) -> None:
    bad = write_space(tmp_path, "model: {split_ratio: 2}", "bad")
    before = set(tmp_path.iterdir())
    args = [a.format(tmp=tmp_path, bad=bad, tiny=tiny_space_file) for a in args]
    code, stdout, err = invoke(*args)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err
    assert "Traceback" not in err and stdout == ""
    assert set(tmp_path.iterdir()) == before  # no storage or report created


def test_unknown_study_lists_the_ones_there(tiny_space_file: Path, storage_url: str) -> None:
    invoke("run", "--space", str(tiny_space_file), "--storage", storage_url, "--n-trials", "1")
    code, _, err = invoke("report", "other", "--storage", storage_url)
    assert code == 2 and "no study 'other'" in err and "(studies: tiny)" in err


def test_debug_shows_the_traceback() -> None:
    result = runner.invoke(app, ["--debug", "run", "--space", "nope"])
    assert result.exit_code != 0 and type(result.exception).__name__ == "SpaceError"


def test_spaces_list_and_show() -> None:
    code, out, _ = invoke("spaces")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert code == 0 and set(lines) == {
        "csp_densenet",
        "csp_resnet",
        "csp_resnext",
        "csp_darknet",
        "csp_peleenet",
        "csp_efm",
        "csp_yolo",
        "csp_yolo_efm",
    }
    assert "5,760 combinations" in lines["csp_densenet"]
    assert "240 combinations" in lines["csp_yolo"]  # each block with the keys it takes
    assert "720 combinations" in lines["csp_efm"]  # maxout_size counts only with Maxout on
    code, out, _ = invoke("spaces", "show", "csp_densenet")
    assert code == 0 and "fusion: {choices: [none, first, last, full]}" in out
    assert out.rstrip().endswith("# size: 5,760 combinations")


def test_cli_sampler_names_match_the_space_loader() -> None:
    assert tuple(s.value for s in Sampler) == SAMPLERS


def test_help_is_quick_and_does_not_import_torch() -> None:
    code = "import sys, cspsearch.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cspsearch", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert done.returncode == 0 and "run" in done.stdout and "report" in done.stdout
    assert time.perf_counter() - start < 5  # generous: the promise is < 1 s, CI machines vary


def test_the_command_ends_at_once_and_leaves_a_complete_database(
    tiny_space_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "run.db"
    args = ["run", "--space", str(tiny_space_file), "--n-trials", "2", "--storage"]
    done = subprocess.run(
        [sys.executable, "-m", "cspsearch", *args, f"sqlite:///{db}", "--n-workers", "1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "2 trials (2 complete" in done.stderr  # flushed before the process ended
    # The WAL was folded into the file: the .db alone, copied, holds both trials.
    assert not db.with_name("run.db-wal").exists()
    copy = tmp_path / "copy" / "run.db"
    copy.parent.mkdir()
    copy.write_bytes(db.read_bytes())
    (name,) = optuna.get_all_study_names(f"sqlite:///{copy}")
    assert len(optuna.load_study(study_name=name, storage=f"sqlite:///{copy}").trials) == 2
    bad = subprocess.run(
        [sys.executable, "-m", "cspsearch", "run", "--space", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "missing.yaml" in bad.stderr  # exit codes pass through


def test_report_overlays_two_studies(tiny_space_file: Path, storage_url: str) -> None:
    for name in ("a", "b"):
        code, _, err = invoke(
            "run",
            "--space",
            str(tiny_space_file),
            "--storage",
            storage_url,
            "--n-trials",
            "2",
            "--study-name",
            name,
            "--seed",
            "1",
        )
        assert code == 0, err
    code, stdout, err = invoke("report", "a", "b", "--storage", storage_url)
    assert code == 0, err
    page = Path(stdout.strip()).read_text(encoding="utf-8")
    assert stdout.strip() == "reports/a-vs-b.html"
    assert (
        "cspsearch report: a vs b" in page
        and "a: Pareto front" in page
        and "b: Pareto front" in page
    )


def test_trial_faults_fail_the_trial_and_the_study_goes_on(
    tiny_space_file: Path, storage_url: str
) -> None:
    code, _, err = invoke(
        "run",
        "--space",
        str(tiny_space_file),
        "--storage",
        storage_url,
        "--n-trials",
        "2",
        "--trial-timeout",
        "0.01",
    )
    assert code == 0, err
    study = optuna.load_study(study_name="tiny", storage=storage_url)
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]
    assert all(t.user_attrs["fail_reason"].startswith("TrialTimeout: ") for t in study.trials)
    # The end-of-run summary counts failures by reason.
    assert "2 failed: TrialTimeout × 2" in err


def test_a_joining_worker_runs_the_study_up_to_its_target(
    tiny_space_file: Path, tmp_path: Path
) -> None:
    journal = str(tmp_path / "study.log")
    # The run stops early (its time is up after the first trial) but sets the target: 3.
    code, _, err = invoke(
        "run",
        "--space",
        str(tiny_space_file),
        "--storage",
        journal,
        "--n-trials",
        "3",
        "--timeout",
        "0.001",
    )
    assert code == 0, err
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    assert len(optuna.load_study(study_name="tiny", storage=storage).trials) == 1
    code, _, err = invoke("worker", "--study", "tiny", "--storage", journal)
    assert code == 0, err
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    assert "[worker 0] trial 2:" in err


def test_a_new_study_starts_with_the_plain_network(
    tiny_space_file: Path, storage_url: str
) -> None:
    code, _, err = invoke(
        "run", "--space", str(tiny_space_file), "--storage", storage_url, "--n-trials", "2"
    )
    assert code == 0, err
    first = optuna.load_study(study_name="tiny", storage=storage_url).trials[0]
    assert first.params["fusion"] == "none" and "split_ratio" not in first.params


def test_early_stop_is_refused_for_a_detection_space(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    code, _, err = invoke(
        "run", "--space", "csp_efm", "--early-stop", "--storage", f"sqlite:///{db}"
    )
    assert code == 2 and "--early-stop: classification spaces only" in err
    code, _, err = invoke(
        "run", "--space", "csp_efm", "--seeds", "2", "--storage", f"sqlite:///{db}"
    )
    assert code == 2 and "a detector trains one seed per trial" in err
    assert not db.exists()
