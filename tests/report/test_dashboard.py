"""`cspsearch dashboard`: a real optuna-dashboard server on a free loopback port, read through its
API and in headless Chromium, while a study keeps writing to the same SQLite file."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cspsearch.cli import app
from tests.report.test_browser import browse
from tests.report.test_browser import console_lines

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> Any:
    # As long as SQLite's busy timeout: a slow answer while training fills both cores is the
    # designed behaviour; an error ("database is locked") is what the test is after.
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def run(space: Path, storage: str, artifacts: Path, n_trials: int) -> None:
    result = runner.invoke(
        app,
        [
            "run",
            "--space",
            str(space),
            "--storage",
            storage,
            "--n-trials",
            str(n_trials),
            "--artifacts",
            str(artifacts),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr


@pytest.mark.slow
def test_dashboard_serves_a_live_study(
    tiny_space_file: Path, storage_url: str, tmp_path: Path
) -> None:
    artifacts = tmp_path / "artifacts"
    run(tiny_space_file, storage_url, artifacts, 2)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cspsearch",
            "dashboard",
            "--storage",
            storage_url,
            "--port",
            str(port),
            "--artifacts",
            str(artifacts),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):  # up to 20 s for the server to start
            try:
                study_id = get(f"{base}/api/studies")["study_summaries"][0]["study_id"]
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the dashboard did not start")
        # Read the study through the dashboard while the same study adds 3 trials to the file.
        errors: list[Exception] = []
        reads, stop = [0], threading.Event()

        def poll() -> None:
            while not stop.is_set():
                try:
                    get(f"{base}/api/studies/{study_id}")
                    reads[0] += 1
                    stop.wait(0.2)  # a user's refresh rate, not a load test
                except Exception as exc:  # noqa: BLE001 (any failure is the finding)
                    errors.append(exc)

        reader = threading.Thread(target=poll)
        reader.start()
        for _ in range(300):  # the first read answered: the reader is polling
            if reads[0] or errors:
                break
            time.sleep(0.1)
        before = reads[0]
        run(tiny_space_file, storage_url, artifacts, 5)
        during = reads[0] - before  # answered while trials were written (no fixed count:
        stop.set()  # 3 tiny trials can take about a second on a fast CPU)
        reader.join()
        assert errors == [] and before >= 1 and during >= 1
        for _ in range(60):  # the dashboard caches trials for up to 10 s
            study = get(f"{base}/api/studies/{study_id}")
            if [t["state"] for t in study["trials"]] == ["Complete"] * 5:
                break
            time.sleep(0.5)
        assert [t["state"] for t in study["trials"]] == ["Complete"] * 5
        assert study["objective_names"] == ["val_accuracy", "macs"]
        trained = [
            t
            for t in study["trials"]
            if not any(a["key"] == "duplicate_of" for a in t["user_attrs"])
        ]
        for trial in trained:
            names = sorted(a["filename"].split("_", 1)[1] for a in trial["artifacts"])
            # run keeps each trained trial's final weights by default (--keep-weights)
            assert names == ["config.json", "learning_curve.csv", "macs.json", "weights.pt"]
        assert {g["id"] for g in study["plotly_graph_objects"]} == {"pareto", "hypervolume"}
        # A person's view: the page renders its plots with a clean console.
        page = browse_url(f"{base}/dashboard/studies/{study_id}", tmp_path)
        assert "main-svg" in page.stdout and console_lines(page.stderr) == []
        shot = tmp_path / "dashboard.png"  # kept with the test's temporary files
        browse_url(
            f"{base}/dashboard/studies/{study_id}",
            tmp_path,
            f"--screenshot={shot}",
            "--window-size=1200,900",
        )
        assert shot.stat().st_size > 20_000
    finally:
        server.terminate()
        log = server.communicate(timeout=10)[0]
    # Local only unless asked otherwise.
    assert f"Listening on http://127.0.0.1:{port}/" in log


def browse_url(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    # The page is a single-page app: give its scripts time to fetch and draw.
    return browse(url, tmp_path, "--virtual-time-budget=8000", *(args or ("--dump-dom",)))


def test_a_detection_trial_uploads_its_ap_curves() -> None:
    from cspsearch.trials.artifacts import _curve_csv

    attrs = {"val_ap50_curve": [0.1, 0.4], "val_ap_curve": [0.05, 0.2], "train_loss_curve": [9, 5]}
    assert _curve_csv(attrs).splitlines() == [
        "epoch,val_ap50,val_ap,train_loss",
        "1,0.1,0.05,9",
        "2,0.4,0.2,5",
    ]


def test_saved_figures_read_back_through_optuna_dashboard(tmp_path: Path) -> None:
    import optuna
    from optuna_dashboard._custom_plot_data import get_plotly_graph_objects

    from cspsearch.compat import study_id
    from cspsearch.compat import study_storage
    from cspsearch.report.dashboard import save_figure

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}")
    long = json.dumps({"data": [{"x": list(range(3000))}]})  # several chunks
    short = json.dumps({"data": [{"x": [1, 2]}]})
    save_figure(study, "pareto", long)
    save_figure(study, "hypervolume", long)
    save_figure(study, "pareto", short)  # overwrites a longer figure
    attrs = study_storage(study).get_study_system_attrs(study_id(study))
    stored = get_plotly_graph_objects(attrs)
    assert stored == {"pareto": short, "hypervolume": long}
