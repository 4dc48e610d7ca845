"""The README's commands on the bundled space, as a user runs them (slow: real training)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest


def cspsearch(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "cspsearch", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_quick_run_and_report_of_the_bundled_space(tmp_path: Path) -> None:
    # From an empty folder: the bundled space must be found where the package is installed.
    run = cspsearch(tmp_path, "run", "--space", "csp_densenet", "--n-trials", "3", "--epochs", "1")
    assert run.returncode == 0, run.stderr
    assert "study csp_densenet-epochs1: 3 trials" in run.stderr
    db = tmp_path / "reports" / "cspsearch.db"
    study = optuna.load_study(study_name="csp_densenet-epochs1", storage=f"sqlite:///{db}")
    assert len(study.trials) == 3
    again = cspsearch(
        tmp_path, "run", "--space", "csp_densenet", "--n-trials", "4", "--epochs", "1"
    )
    assert again.returncode == 0 and "1 trial(s) to run (4 wanted, 3 done)" in again.stderr
    report = cspsearch(tmp_path, "report", "csp_densenet-epochs1")
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "reports" / "csp_densenet-epochs1.html").read_text(encoding="utf-8")
    assert_report_content(page, "csp_densenet-epochs1", trials=4)


def assert_report_content(page: str, study: str, trials: int) -> None:
    """The search report says what it is about: its title, the trial count in its header,
    each section, and one row per trial in the table of all trials (not just a file whose
    inlined plotly.js alone is megabytes)."""
    assert f"<title>cspsearch report: {study}</title>" in page
    assert f"{trials} trials, " in page  # the header's counts
    for section in ("Per-factor effects", "Paired comparisons", "Pareto-optimal architectures",
                    "All trials"):  # fmt: skip
        assert f"<h2>{section}" in page, section
    table = page.split("<h2>All trials</h2>", 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == trials + 1  # the header row, then one per trial


@pytest.mark.slow
@pytest.mark.parametrize("space", ["csp_resnet", "csp_resnext", "csp_darknet", "csp_peleenet"])
def test_every_bundled_space_runs(space: str, tmp_path: Path) -> None:
    run = cspsearch(tmp_path, "run", "--space", space, "--n-trials", "3", "--epochs", "1")
    assert run.returncode == 0, run.stderr
    study = optuna.load_study(
        study_name=f"{space}-epochs1", storage=f"sqlite:///{tmp_path / 'reports' / 'cspsearch.db'}"
    )
    assert len(study.trials) == 3 and any(t.state.name == "COMPLETE" for t in study.trials)


@pytest.mark.slow
def test_the_detection_space_runs_and_reports_ap50(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CSPSEARCH_CACHE", str(tmp_path / "cache"))  # shapes generated here
    run = cspsearch(tmp_path, "run", "--space", "csp_efm", "--n-trials", "2", "--epochs", "1")
    assert run.returncode == 0, run.stderr
    db = f"sqlite:///{tmp_path / 'reports' / 'cspsearch.db'}"
    study = optuna.load_study(study_name="csp_efm-epochs1", storage=db)
    assert study.metric_names == ["val_ap50", "macs"]
    for trial in study.trials:
        a = trial.user_attrs
        assert trial.state.name == "COMPLETE", a.get("fail_reason")
        assert 0 <= a["val_ap50"] <= 1 and 0 <= a["val_ap"] <= a["val_ap50"]
        assert set(a["macs_by_part"]) == {"backbone", "neck", "head"}
        assert sum(a["macs_by_part"].values()) == a["macs"]
        assert a["detector_neck"] in ("fpn", "gfm", "efm") and len(a["anchors"]) == 9
        assert {"detector_maxout", "detector_spp", "detector_attention"} <= set(a)
    report = cspsearch(tmp_path, "report", "csp_efm-epochs1")
    assert report.returncode == 0, report.stderr
    assert "val AP50" in (tmp_path / "reports" / "csp_efm-epochs1.html").read_text()
    export = cspsearch(tmp_path, "export", "csp_efm-epochs1", "--best", "1", "--out-dir", "best")
    assert export.returncode == 0, export.stderr
    from cspsearch.space.loader import load_space

    (fixed,) = (tmp_path / "best").glob("*.yaml")
    best = next(t for t in study.trials if fixed.stem.endswith(f"trial{t.number}"))
    assert load_space(fixed).detector == best.user_attrs["config"]["detector"]  # re-runnable
