"""Early stopping in multi-objective studies: the rung rule, and stopping inside a study."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from cspsearch.cli import app
from cspsearch.errors import StudyError
from cspsearch.trials.early_stop import EarlyStop
from cspsearch.trials.early_stop import RungPoint
from cspsearch.trials.early_stop import TrialStopper
from cspsearch.trials.workers import workers_for

SCHEME = EarlyStop(eta=2, min_epochs=1, min_population=4)


def test_rungs_are_geometric_below_the_last_epoch() -> None:
    assert SCHEME.rungs(4) == [1, 2]
    assert SCHEME.rungs(9) == [1, 2, 4, 8]
    assert SCHEME.rungs(1) == []


def test_a_dominated_trial_stops_and_the_front_goes_on() -> None:
    # (MACs,) costs and accuracy at the rung: a cheap accurate trial dominates the rest.
    others = [RungPoint((1.0,), 0.9), RungPoint((2.0,), 0.95), RungPoint((3.0,), 0.97)]
    assert SCHEME.should_stop(RungPoint((4.0,), 0.5), others)  # dominated by all three
    assert not SCHEME.should_stop(RungPoint((0.5,), 0.2), others)  # cheapest: on the front
    assert not SCHEME.should_stop(RungPoint((5.0,), 0.99), others)  # most accurate: on it


def test_nothing_stops_before_the_rung_has_enough_trials() -> None:
    assert not SCHEME.should_stop(RungPoint((4.0,), 0.1), [RungPoint((1.0,), 0.9)])


def test_a_margin_keeps_trials_within_noise() -> None:
    others = [RungPoint((1.0,), 0.90)] * 3
    assert SCHEME.should_stop(RungPoint((2.0,), 0.89), others)
    assert not EarlyStop(margin=0.02).should_stop(RungPoint((2.0,), 0.89), others)


def test_single_objective_is_plain_successive_halving() -> None:
    others = [RungPoint((), a) for a in (0.9, 0.8, 0.7)]
    assert SCHEME.should_stop(RungPoint((), 0.6), others)
    assert not SCHEME.should_stop(RungPoint((), 0.85), others)


def _study_with(trials: list[tuple[int, list[float]]]) -> optuna.Study:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for i, (macs, curve) in enumerate(trials):
        attrs = {"trained": True, "config_key": str(i), "macs": macs}
        attrs["val_accuracy_curve"] = curve
        study.add_trial(optuna.trial.create_trial(values=[curve[-1], macs], user_attrs=attrs))
    return study


def test_the_stopper_reads_earlier_trials_at_the_same_epoch() -> None:
    # Four earlier cheap trials were at 0.8 after epoch 1 (and stopped there or went on).
    study = _study_with([(100, [0.8, 0.9, 0.95, 0.97])] * 3 + [(100, [0.8])])
    objectives = {"val_accuracy": "maximize", "macs": "minimize"}
    bad = TrialStopper(SCHEME, study, 99, {"macs": 200}, 4, objectives)
    on_epoch = bad.callback(0)
    assert on_epoch(0, 0.5) is True  # dominated at epoch 1: stops
    assert bad.attrs()["stopped_at_epoch"] == 1
    assert "dominated by 4 of 4 trials at epoch 1" in bad.attrs()["early_stop_reason"]
    later_seed = bad.callback(1)
    assert later_seed(0, 0.99) is True  # further seeds stop at the same epoch
    good = TrialStopper(SCHEME, study, 99, {"macs": 50}, 4, objectives)
    assert not any(good.callback(0)(e, 0.6) for e in range(4))  # cheapest: never stopped
    assert good.attrs() == {}


def test_trials_per_device_and_n_workers_exclude_each_other() -> None:
    assert workers_for(3, 1, "auto") == 3
    assert workers_for(1, 2, "cpu") == 2
    with pytest.raises(StudyError, match="give one of them"):
        workers_for(2, 2, "auto")


@pytest.mark.slow
def test_run_with_early_stop_records_stopped_trials_as_complete(tmp_path: Path) -> None:
    space = tmp_path / "es.yaml"
    space.write_text(
        "model: {num_stages: 2, stem_width: 8, growth_rate: {choices: [2, 4, 8]}, "
        "depth: {choices: [1, 2]}, fusion: {choices: [none, last]}}\n"
        "train: {epochs: 2, batch_size: 128, precise_bn: 128}\n"
        "data: {input_size: 8}\nstudy: {n_trials: 12, sampler: random}\n",
        encoding="utf-8",
    )
    storage = f"sqlite:///{tmp_path / 's.db'}"
    args = ["run", "--space", str(space), "--storage", storage, "--early-stop"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    trials = optuna.load_study(study_name="es-earlystop", storage=storage).trials
    assert all(t.state.name == "COMPLETE" for t in trials)
    stopped = [t for t in trials if "stopped_at_epoch" in t.user_attrs]
    assert stopped, "no trial was stopped"
    for t in stopped:
        assert t.user_attrs["stopped_at_epoch"] == 1 == len(t.user_attrs["val_accuracy_curve"])
        assert t.values[0] == t.user_attrs["val_accuracy_curve"][-1]
        assert json.loads(t.user_attrs["config_key"])["train"]["precision"] in ("fp32", "bf16")
    # The best trial of the study trained to the end.
    best = max(trials, key=lambda t: t.values[0])
    assert "stopped_at_epoch" not in best.user_attrs
