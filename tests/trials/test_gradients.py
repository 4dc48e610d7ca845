"""``gradients=True`` records gradient duplication per stage on a trial (and its duplicates)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from cspsearch.space.loader import load_space
from cspsearch.trials.objective import Objective
from cspsearch.trials.run import RunOptions
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study
from cspsearch.trials.study import run_study
from cspsearch.trials.workers import worker_args

PARAMS = {"depth": 2, "fusion": "full", "split_ratio": 0.5}


def _study(space_file: Path, storage: str, name: str, n: int, gradients: bool) -> optuna.Study:
    space = load_space(space_file)
    study = open_study(space, open_storage(storage), name, make_sampler("random", 0, space))
    for _ in range(n):  # the same architecture: later trials are duplicates of the first
        study.enqueue_trial(PARAMS)
    run_study(study, Objective(space, "cpu", gradients=gradients), n, timeout=None)
    return study


def test_gradients_are_recorded_only_when_asked(tiny_space_file: Path, storage_url: str) -> None:
    without = _study(tiny_space_file, storage_url, "without", 1, False).trials[0].user_attrs
    assert without["trained"] and not any(k.startswith("gradient") for k in without)
    study = _study(tiny_space_file, storage_url, "with", 2, True)
    first, dup = (t.user_attrs for t in study.trials)
    stages = first["gradient_duplication_stages"]
    # Two stages of two dense layers each (8 stem channels → 4 shared after the split).
    assert set(stages) == {"stages.0", "stages.1"}
    assert all(-1.0 <= v <= 1.0 for v in stages.values())
    assert first["gradient_duplication"] == pytest.approx(sum(stages.values()) / 2)
    # A duplicate is not trained again; it copies the figures.
    assert dup["duplicate_of"] == 0 and dup["gradient_duplication_stages"] == stages
    assert dup["gradient_duplication"] == first["gradient_duplication"]


def test_workers_are_told_to_measure_gradients() -> None:
    args = worker_args("s", "journal.log", None, RunOptions(gradients=True))
    assert "--gradients" in args
    assert "--gradients" not in worker_args("s", "journal.log", None, RunOptions())
