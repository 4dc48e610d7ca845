from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import optuna
import pytest

from cspsearch.errors import StudyError
from cspsearch.space.loader import load_space
from cspsearch.space.searchspace import Range
from cspsearch.trials import recovery
from cspsearch.trials.objective import Objective
from cspsearch.trials.run import RunOptions
from cspsearch.trials.run import work
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.study import default_study_name
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study
from cspsearch.trials.study import run_study


def _run(
    space_file: Path, storage: str, n_trials: int, name: str = "s", **changes: object
) -> optuna.Study:
    space = dataclasses.replace(load_space(space_file), **changes)
    study = open_study(space, open_storage(storage), name, make_sampler("random", 0, space))
    run_study(study, Objective(space, "cpu"), n_trials, timeout=None)
    return study


def test_two_trial_study_records_everything(tiny_space_file: Path, storage_url: str) -> None:
    study = _run(tiny_space_file, storage_url, 2)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert study.metric_names == ["val_accuracy", "macs"]
    for t in study.trials:
        a = t.user_attrs
        assert t.values == [a["val_accuracy"], a["macs"]]
        assert a["flops"] == 2 * a["macs"] and a["params"] > a["params_no_bn"] > 0
        assert a["config"]["model"]["stem_width"] == 8 and a["config"]["train"]["epochs"] == 1
        assert len(a["val_accuracy_curve"]) == 1 and 0 <= a["test_accuracy"] <= 1
        assert a["train_time_s"] > 0 and a["trial_time_s"] >= a["train_time_s"]
        assert {"torch", "optuna", "fvcore", "python"} <= set(a["versions"])
        assert "aten::avg_pool2d" in a["unsupported_ops"] and a["input_size"] == 8
        # Latency is timed only when an objective or budget names it (not here).
        assert "latency" not in a and a["activations"] > 0
    # The optuna CLI and dashboard read the same storage.
    assert (
        optuna.load_study(study_name="s", storage=storage_url).user_attrs["space_name"] == "tiny"
    )


def test_rerun_resumes_and_adds_trials(tiny_space_file: Path, storage_url: str) -> None:
    _run(tiny_space_file, storage_url, 2)
    study = _run(tiny_space_file, storage_url, 2)  # already done: nothing more
    assert len(study.trials) == 2
    study = _run(tiny_space_file, storage_url, 4)
    assert len(study.trials) == 4 and len(optuna.get_all_study_names(storage_url)) == 1


def test_over_budget_is_infeasible_and_not_trained(tiny_space_file: Path, tmp_path: Path) -> None:
    study = _run(tiny_space_file, str(tmp_path / "journal.log"), 2, budget={"macs": 1000.0})
    for t in study.trials:
        assert t.state.name == "COMPLETE" and t.constraints["macs"] == t.user_attrs["macs"] - 1000
        assert t.user_attrs["trained"] is False and "macs" in t.user_attrs["infeasible"]
        assert "val_accuracy_curve" not in t.user_attrs
    assert study.best_trials == []  # no feasible trial, so no Pareto set


def test_duplicate_architecture_is_neither_trained_nor_counted_twice(
    tiny_space_file: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cspsearch.training import task
    from cspsearch.trials import objective

    counted, trained = [], []
    count, train = task.count_macs, objective.fit
    monkeypatch.setattr(task, "count_macs", lambda *a: counted.append(1) or count(*a))
    monkeypatch.setattr(objective, "fit", lambda *a: trained.append(1) or train(*a))
    space = load_space(tiny_space_file)
    study = open_study(space, open_storage(storage_url), "dup", make_sampler("random", 0, space))
    params = {"depth": 1, "fusion": "last", "split_ratio": 0.5}
    study.enqueue_trial(params)
    run_study(study, Objective(space, "cpu"), 1, timeout=None)
    # A new Objective has an empty MAC cache, as a resumed process would.
    study.enqueue_trial(params)
    run_study(study, Objective(space, "cpu"), 2, timeout=None)
    first, second = study.trials
    assert counted == [1] and trained == [1]
    assert second.user_attrs["duplicate_of"] == 0 and second.values == first.values
    assert second.user_attrs["val_accuracy_curve"] == first.user_attrs["val_accuracy_curve"]
    assert second.user_attrs["macs_by_stage"] == first.user_attrs["macs_by_stage"]


def test_impossible_architecture_fails_with_reason(
    tiny_space_file: Path, storage_url: str
) -> None:
    space = load_space(tiny_space_file)
    space = dataclasses.replace(space, model={**space.model, "stem_width": 1})
    study = open_study(space, open_storage(storage_url), "bad", make_sampler("random", 0, space))
    # Every γ builds since issue 12, but a 1-channel stem cannot be split in two parts.
    study.enqueue_trial({"depth": 1, "fusion": "full", "split_ratio": 0.5})
    study.enqueue_trial({"depth": 2, "fusion": "none"})
    run_study(study, Objective(space, "cpu"), 2, timeout=None)
    failed, ok = study.trials
    assert failed.state.name == "FAIL" and ok.state.name == "COMPLETE"
    assert failed.user_attrs["fail_reason"].startswith("BuildError: stage 0: cannot split 1")


def test_study_from_another_space_is_refused(tiny_space_file: Path, storage_url: str) -> None:
    _run(tiny_space_file, storage_url, 1)
    with pytest.raises(StudyError, match="made from a different space"):
        _run(tiny_space_file, storage_url, 1, budget={"macs": 5e6})


def test_grid_sampler_needs_discrete_parameters(tiny_space_file: Path) -> None:
    space = load_space(tiny_space_file)
    assert isinstance(make_sampler("grid", 0, space), optuna.samplers.BruteForceSampler)
    continuous = dataclasses.replace(
        space, train={**space.train, "lr": Range(1e-3, 1e-1, log=True)}
    )
    with pytest.raises(StudyError, match="grid needs discrete parameters; continuous: lr"):
        make_sampler("grid", 0, continuous)


def test_bad_storage_is_a_study_error(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="cannot open storage 'nosuchdb://x'"):
        open_storage("nosuchdb://x")
    with pytest.raises(StudyError, match="no study storage at"):
        open_storage(f"sqlite:///{tmp_path / 'missing.db'}", must_exist=True)
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("name", ["tpe", "nsga2", "gp", "random", "grid"])
def test_every_sampler_runs_the_conditional_space(
    name: str, tiny_space_file: Path, storage_url: str
) -> None:
    space = load_space(tiny_space_file)
    study = open_study(space, open_storage(storage_url), name, make_sampler(name, None, space))
    run_study(study, Objective(space, "cpu"), 3, timeout=None)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3
    # split_ratio is only a parameter of trials with a split.
    for t in study.trials:
        assert ("split_ratio" in t.params) == (t.params["fusion"] != "none")


def test_repeated_seeds_store_each_and_score_the_mean(
    tiny_space_file: Path, storage_url: str
) -> None:
    space = load_space(tiny_space_file)
    space = dataclasses.replace(space, train={**space.train, "seeds": 2, "seed": 5})
    study = open_study(space, open_storage(storage_url), "seeds", make_sampler("random", 0, space))
    study.enqueue_trial({"depth": 2, "fusion": "last", "split_ratio": 0.5})
    run_study(study, Objective(space, "cpu"), 1, timeout=None)
    a = study.trials[0].user_attrs
    runs = a["seed_results"]
    assert [r["seed"] for r in runs] == [5, 6]
    # Two initialisations and batch orders: two different results, and their mean is the score.
    assert runs[0]["val_accuracy_curve"] != runs[1]["val_accuracy_curve"]
    assert a["val_accuracy"] == pytest.approx(
        (runs[0]["val_accuracy"] + runs[1]["val_accuracy"]) / 2
    )
    assert study.trials[0].values[0] == a["val_accuracy"] and a["val_accuracy_std"] > 0


def test_latency_budget_is_a_constraint(tiny_space_file: Path, storage_url: str) -> None:
    study = _run(tiny_space_file, storage_url, 1, budget={"latency": 1e-6})
    t = study.trials[0]
    assert t.constraints["latency"] == pytest.approx(t.user_attrs["latency"] - 1e-6)
    assert t.user_attrs["trained"] is False and "latency" in t.user_attrs["infeasible"]
    assert 0 < t.user_attrs["latency"] < t.user_attrs["latency_b32"]  # timed: a budget names it


def test_early_stop_names_a_separate_study() -> None:
    assert default_study_name("tiny", {"epochs": 1}) == "tiny-epochs1"
    assert default_study_name("tiny", {"epochs": 1}, early_stop=True) == "tiny-epochs1-earlystop"


def test_a_study_is_resumed_only_with_its_early_stop_setting(
    tiny_space_file: Path, storage_url: str
) -> None:
    space = load_space(tiny_space_file)
    storage = open_storage(storage_url)
    full = open_study(space, storage, "full", make_sampler("random", 0, space))
    assert full.user_attrs["early_stop"] is False
    with pytest.raises(StudyError, match="made without --early-stop"):
        open_study(space, storage, "full", make_sampler("random", 0, space), early_stop=True)
    stops = open_study(space, storage, "es", make_sampler("random", 0, space), early_stop=True)
    assert stops.user_attrs["space_fingerprint"] != full.user_attrs["space_fingerprint"]
    with pytest.raises(StudyError, match="made with --early-stop"):
        open_study(space, storage, "es", make_sampler("random", 0, space))
    # The same setting resumes; so does a worker, which is refused the other setting too.
    open_study(space, storage, "es", make_sampler("random", 0, space), early_stop=True)
    with pytest.raises(StudyError, match="made with --early-stop"):
        work("es", storage_url, quota=0, seed=None, options=RunOptions(device="cpu"))


def test_a_stopped_trial_is_never_copied_into_a_full_length_one(
    tiny_space_file: Path, storage_url: str
) -> None:
    space = load_space(tiny_space_file)
    params = {"depth": 1, "fusion": "last", "split_ratio": 0.5}
    scratch = open_study(space, open_storage(storage_url), "a", make_sampler("random", 0, space))
    scratch.enqueue_trial(params)
    run_study(scratch, Objective(space, "cpu"), 1, timeout=None)
    done = scratch.trials[0]
    # The same architecture, stopped early with a partial result.
    study = open_study(space, open_storage(storage_url), "b", make_sampler("random", 0, space))
    partial = {**done.user_attrs, "stopped_at_epoch": 1, "val_accuracy": 0.01}
    study.add_trial(
        optuna.trial.create_trial(
            params=done.params,
            distributions=done.distributions,
            values=[0.01, done.values[1]],
            user_attrs=partial,
        )
    )
    study.enqueue_trial(params)
    run_study(study, Objective(space, "cpu"), 2, timeout=None)
    trained = study.trials[1].user_attrs
    assert "duplicate_of" not in trained and "stopped_at_epoch" not in trained
    assert trained["val_accuracy"] != 0.01 and len(trained["val_accuracy_curve"]) == 1
    # A run that stops early itself may reuse it (the copy is marked stopped as well).
    from cspsearch.trials.early_stop import EarlyStop

    study.enqueue_trial(params)
    run_study(study, Objective(space, "cpu", early_stop=EarlyStop()), 3, timeout=None)
    assert study.trials[2].user_attrs["duplicate_of"] == 0
    assert study.trials[2].user_attrs["stopped_at_epoch"] == 1


@pytest.mark.parametrize(("n_trials", "startup"), [(8, 3), (16, 4), (30, 7), (200, 10)])
def test_tpe_models_after_a_quarter_of_a_short_study(n_trials: int, startup: int) -> None:
    space = load_space("csp_densenet")
    sampler = make_sampler("tpe", 0, space, n_trials=n_trials)
    assert sampler._n_startup_trials == startup  # Optuna's default would be 10 in every case
    default = make_sampler("tpe", 0, space)  # the space's own study length (30)
    assert default._n_startup_trials == 7


def test_a_resumed_journal_study_runs_a_lost_trials_retry_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker died mid-trial and nothing swept its trial since; the resumed run must retry
    # those parameters, not draw fresh ones and leave the retry waiting (a CI failure).
    monkeypatch.setattr(recovery, "GRACE_PERIOD", 0)
    storage = open_storage(str(tmp_path / "study.log"))
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(0))
    lost = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})  # never told
    time.sleep(0.05)  # older than the (zero) grace period
    run_study(study, lambda trial: trial.suggest_float("x", 0, 1), 1, timeout=None)
    states = [t.state.name for t in study.trials]
    assert states == ["FAIL", "COMPLETE"]
    assert study.trials[1].params == lost.params
    assert study.trials[1].user_attrs[recovery.RETRY_OF] == lost.number
