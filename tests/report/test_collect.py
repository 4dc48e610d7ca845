from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState
from optuna.trial import create_trial

from cspsearch.pareto import pareto_mask
from cspsearch.report.collect import collect


def test_pareto_mask_by_hand() -> None:
    points = [[0.9, 10], [0.95, 20], [0.85, 15], [0.95, 25], [0.99, 40]]
    # (0.85, 15) is beaten by (0.9, 10); (0.95, 25) by (0.95, 20).
    assert pareto_mask(points, ["maximize", "minimize"]) == [True, True, False, False, True]
    assert pareto_mask([[1, 1], [1, 1]], ["minimize", "minimize"]) == [True, True]


def _trial(fusion: str, acc: float, macs: int, **attrs: object) -> optuna.trial.FrozenTrial:
    state = attrs.pop("state", TrialState.COMPLETE)
    constraint = attrs.pop("constraint", -1.0)
    trial = create_trial(
        state=state,
        values=[acc, macs] if state == TrialState.COMPLETE else None,
        params={"fusion": fusion},
        distributions={"fusion": CategoricalDistribution(["none", "first", "last", "full"])},
        user_attrs={
            "trained": True,
            "val_accuracy": acc,
            "macs": macs,
            "config": {"model": {"fusion": [fusion] * 3}},
            **attrs,
        },
        system_attrs={"constraints:macs": constraint},
    )
    return trial


def test_collect_marks_front_baselines_and_infeasible() -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        storage=storage, study_name="s", directions=["maximize", "minimize"]
    )
    study.set_metric_names(["val_accuracy", "macs"])
    study.add_trial(_trial("none", 0.90, 100))
    study.add_trial(_trial("last", 0.92, 80))
    study.add_trial(_trial("first", 0.80, 90))
    # Over budget: more accurate and cheaper, but untrained and infeasible: not on the front.
    study.add_trial(_trial("full", 0.0, 50, trained=False, infeasible="macs", constraint=5.0))
    study.add_trial(_trial("full", 0, 0, state=TrialState.FAIL, fail_reason="BuildError: x"))
    data = collect(storage, "s")
    rows = {r.number: r for r in data.rows}
    assert data.objectives == {"val_accuracy": "maximize", "macs": "minimize"}
    assert [n for n, r in rows.items() if r.pareto] == [1]
    assert rows[0].baseline and not rows[1].baseline
    assert not rows[3].evaluated and rows[3].infeasible == "macs"
    assert rows[4].state == "failed" and rows[4].fail_reason == "BuildError: x"
    assert data.count(lambda r: r.evaluated) == 3


def test_hypervolume_2d_by_hand() -> None:
    from cspsearch.pareto import hypervolume_2d

    # Staircase of (1, 3) and (2, 1) under reference (4, 4): 1·1 + 2·3 = 7; a dominated point
    # and one outside the reference add nothing.
    assert hypervolume_2d([[1, 3], [2, 1], [3, 3], [5, 0]], [4, 4]) == 7.0
    assert hypervolume_2d([], [4, 4]) == 0.0


def test_hypervolume_agrees_with_optuna() -> None:
    import random

    import numpy as np
    from optuna._hypervolume import compute_hypervolume

    from cspsearch.pareto import hypervolume_2d

    rng = random.Random(0)
    for _ in range(20):
        points = [[rng.random(), rng.random() * 1e7] for _ in range(rng.randint(1, 30))]
        ref = [1.0, 1.2e7]
        assert hypervolume_2d(points, ref) == pytest.approx(
            compute_hypervolume(np.array(points), np.array(ref)), rel=1e-9
        )


def test_a_reused_duplicate_is_not_a_second_pareto_point() -> None:
    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        storage=storage, study_name="d", directions=["maximize", "minimize"]
    )
    study.set_metric_names(["val_accuracy", "macs"])
    study.add_trial(_trial("last", 0.92, 80))
    study.add_trial(_trial("last", 0.92, 80, duplicate_of=0))
    rows = collect(storage, "d").rows
    assert [r.pareto for r in rows] == [True, False] and rows[1].evaluated
