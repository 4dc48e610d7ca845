"""A trial's user attributes written in one statement read back as Optuna's own writes do."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from cspsearch.trials.attrs import set_user_attrs
from cspsearch.trials.study import open_storage

ATTRS = {"macs": 123, "config": {"model": {"fusion": ["full"]}}, "curve": [0.5, 0.75], "x": None}


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_batched_attrs_match_and_overwrite(kind: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}" if kind == "sqlite" else str(tmp_path / "s.log")
    study = optuna.create_study(storage=open_storage(url), study_name="s")
    trial = study.ask()
    trial.set_user_attr("macs", 1)  # overwritten below
    set_user_attrs(trial, ATTRS)
    assert trial.user_attrs == ATTRS  # the running trial sees them at once
    study.tell(trial, 1.0)
    stored = optuna.load_study(study_name="s", storage=open_storage(url)).trials[0]
    assert stored.user_attrs == ATTRS


def test_a_finished_trial_cannot_be_written(tmp_path: Path) -> None:
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / 's.db'}"))
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        set_user_attrs(trial, {"late": 1})
