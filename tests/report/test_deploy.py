"""The report's "where MACs mislead" part, read from a real storage: ρ per block and over all,
the architectures whose latency rank is farthest from their MACs rank, and no section for a
study that did not measure latency_ort."""

from __future__ import annotations

import subprocess
import sys

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from cspsearch.report.collect import collect
from cspsearch.report.deploy import measured
from cspsearch.report.deploy import rank_gaps
from cspsearch.report.deploy import rhos
from cspsearch.report.html import render

BLOCKS = ["csp", "c2f"]
# (block, MACs, latency_ort): within csp latency rises with MACs; within c2f it falls.
TRIALS = [
    ("csp", 100, 1.0), ("csp", 200, 2.0), ("csp", 300, 3.0),
    ("c2f", 150, 3.5), ("c2f", 250, 2.5), ("c2f", 350, 1.5),
]  # fmt: skip


def _study(with_ort: bool) -> optuna.storages.BaseStorage:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(storage=storage, study_name="s", directions=["maximize"] * 2)
    study.set_metric_names(["val_accuracy", "latency_ort" if with_ort else "macs"])
    for i, (block, macs, latency) in enumerate(TRIALS):
        attrs = {"trained": True, "val_accuracy": 0.5 + i / 100, "macs": macs, "ort_threads": 1}
        attrs |= {"latency_ort": latency} if with_ort else {}
        attrs["config"] = {"model": {"block": [block] * 2, "fusion": ["full"] * 2}}
        study.add_trial(
            create_trial(
                values=[0.5 + i / 100, latency],
                params={"block": block},
                distributions={"block": CategoricalDistribution(BLOCKS)},
                user_attrs=attrs,
            )
        )
    return storage


def test_rho_per_block_and_the_largest_rank_gaps() -> None:
    rows = measured(collect(_study(True), "s", importances=False))
    values = {r.group: (r.n, r.rho) for r in rhos(rows)}
    assert values["block=csp"] == (3, pytest.approx(1.0))
    assert values["block=c2f"] == (3, pytest.approx(-1.0))
    assert values["all"][0] == 6 and -1 < values["all"][1] < 1
    gaps = rank_gaps(rows, most=2)
    # c2f at 150 MMACs: 2nd by MACs, 6th (slowest) by latency; 350: 6th by MACs, 2nd by latency.
    assert [(r.macs, m, t) for r, m, t in gaps] == [(150, 2, 6), (350, 6, 2)]


def test_the_page_has_the_section_only_when_measured() -> None:
    page = render([collect(_study(True), "s", importances=False)])
    assert "Where MACs mislead: s" in page and "Latency rank farthest" in page
    page = render([collect(_study(False), "s", importances=False)])
    assert "Where MACs mislead" not in page


def test_the_end_of_a_run_does_not_import_scipy_stats() -> None:
    """`cspsearch run` publishes its figures through this module at the end of every run;
    scipy.stats (~0.5 s) is imported only where ρ is computed."""
    code = (
        "import sys, cspsearch.report.dashboard, cspsearch.report.deploy; "
        "print('scipy.stats' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
