"""``gradients=True`` records gradient duplication per stage on a trial (and its duplicates)."""

from __future__ import annotations

from pathlib import Path

from cspsearch.space.loader import load_space
from cspsearch.trials.objective import Objective
from cspsearch.trials.run import RunOptions
from cspsearch.trials.study import make_sampler
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study
from cspsearch.trials.study import run_study
from cspsearch.trials.workers import worker_args


def test_gradients_are_recorded_only_when_asked(tiny_space_file: Path, storage_url: str) -> None:
    space = load_space(tiny_space_file)
    storage = open_storage(storage_url)
    params = {"depth": 2, "fusion": "full", "split_ratio": 0.5}
    for name, gradients in (("with", True), ("without", False)):
        study = open_study(space, storage, name, make_sampler("random", 0, space))
        study.enqueue_trial(params)
        study.enqueue_trial(params)  # the same architecture: a duplicate copies the figures
        run_study(study, Objective(space, "cpu", gradients=gradients), 2, timeout=None)
        first, dup = (t.user_attrs for t in study.trials)
        assert dup["duplicate_of"] == 0
        if not gradients:
            assert not any(k.startswith("gradient") for k in (*first, *dup))
            continue
        stages = first["gradient_duplication_stages"]
        # Two stages of two dense layers each (8 stem channels → 4 shared after the split).
        assert set(stages) == {"stages.0", "stages.1"}
        assert all(-1.0 <= v <= 1.0 for v in stages.values())
        assert first["gradient_duplication"] == sum(stages.values()) / 2
        assert dup["gradient_duplication_stages"] == stages


def test_workers_are_told_to_measure_gradients() -> None:
    args = worker_args("s", "journal.log", None, RunOptions(gradients=True))
    assert "--gradients" in args
    assert "--gradients" not in worker_args("s", "journal.log", None, RunOptions())
