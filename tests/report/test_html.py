from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna

from cspsearch.report import collect
from cspsearch.report import report_path
from cspsearch.report import write_report
from tests.report.test_collect import _trial


def test_report_is_self_contained_and_escapes_study_strings(tmp_path: Path) -> None:
    storage = optuna.storages.InMemoryStorage()
    name = "<script>alert('x')</script>"
    study = optuna.create_study(
        storage=storage, study_name=name, directions=["maximize", "minimize"]
    )
    study.set_metric_names(["val_accuracy", "macs"])
    study.add_trial(_trial("none", 0.9, 100, fail_reason=""))
    study.add_trial(_trial("last", 0.8, 50, test_accuracy=0.8, params=10))
    path = write_report(collect(storage, name), tmp_path / "r.html")
    page = path.read_text(encoding="utf-8")
    assert "<script>alert(" not in page and "&lt;script&gt;alert(" in page
    # plotly.js is embedded: no script is fetched from anywhere.
    assert "Plotly.newPlot" in page and "<script src=" not in page and len(page) > 1_000_000
    assert "baseline (fusion=none)" in page and "Pareto front" in page
    assert "FLOPs = 2 × MACs" in page
    assert not list(tmp_path.glob("*.tmp"))


def test_report_path_stays_in_its_folder() -> None:
    assert report_path("../../etc/passwd", "reports") == Path("reports/_.._etc_passwd.html")
    assert report_path("a b/c", "out").parent == Path("out")


def test_report_code_does_not_import_torch() -> None:
    code = (
        "import sys, cspsearch.report, cspsearch.trials.study; "
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_latency_front_appears_only_when_measured(tmp_path: Path) -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        storage=storage, study_name="lat", directions=["maximize", "minimize"]
    )
    study.set_metric_names(["val_accuracy", "macs"])
    study.add_trial(_trial("none", 0.9, 100))
    page = write_report(collect(storage, "lat"), tmp_path / "a.html").read_text(encoding="utf-8")
    assert "latency, ms per image" not in page
    study.add_trial(_trial("last", 0.8, 50, latency=1.5))
    page = write_report(collect(storage, "lat"), tmp_path / "b.html").read_text(encoding="utf-8")
    assert "latency, ms per image" in page
