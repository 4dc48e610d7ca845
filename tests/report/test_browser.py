"""The report as a person sees it: opened offline in a real headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import optuna
import pytest

from cspsearch.report import collect
from cspsearch.report import write_report
from tests.report.test_collect import _trial

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--enable-unsafe-swiftshader",
]
# WebGL (parallel coordinates) runs on SwiftShader without a GPU; its driver notices are the
# browser's, not the page's.
GL_NOTICE = "GL Driver Message"


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line and GL_NOTICE not in line]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


def browse(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"  # a fresh profile each time
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_report_renders_offline_without_console_errors(tmp_path: Path) -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        storage=storage, study_name="b", directions=["maximize", "minimize"]
    )
    study.set_metric_names(["val_accuracy", "macs"])
    for i, fusion in enumerate(["none", "first", "last", "full"]):
        study.add_trial(
            _trial(fusion, 0.8 + 0.03 * i, 100 - 10 * i, test_accuracy=0.8, params=1000)
        )
    page = write_report(collect(storage, "b"), tmp_path / "report.html")
    dom = browse(page.as_uri(), tmp_path, "--dump-dom")
    # Plotly drew the figure (its SVG is in the DOM) and the page logged nothing.
    assert dom.returncode == 0 and "main-svg" in dom.stdout and "scatterlayer" in dom.stdout
    assert console_lines(dom.stderr) == []
    shot = tmp_path / "report.png"
    browse(page.as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1200,900")
    assert shot.stat().st_size > 20_000  # a real picture, kept with the test's tmp files
