"""The default study against the plain Optuna script, side by side in the same run: the same space,
trial count and precision (fp32; again in bf16 where it is native), each timed from start to
finish, in the order plain, ours, ours, plain; and, from our trials' own records, where a
trial's wall time goes (harness, evaluation, steps).

Why that order: these machines are shared, and the same plain study (its seeded TPE trains the
same architectures every time) took 49 s in one bench run and 66 s in another ten minutes
apart on the same 2-core VM; one thread's step time moved between 65 and 120 ms within a
minute. Timing each side twice, symmetrically, cancels a drift that is linear in time and shows
the rest: ``plain_optuna.runs_wall_s`` holds the two timings of identical work.

The two sides train different architectures (ours: which worker finishes first steers TPE), so
with ``same_architectures`` the plain script also replays our first study's trials (their
parameters, in order) right after it: plain, ours, replay, ours, plain. That pair is the
speed-up at equal work; the plain side's figures stay symmetric around it. A duplicate our study
reused, or an over-budget one, is trained again or pruned by the plain script as it would be
in its own study: the table shows both sides' trained counts.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import optuna

from cspsearch.bench.plain import plain_optuna_study
from cspsearch.space.searchspace import SearchSpace
from cspsearch.trials.run import RunOptions
from cspsearch.trials.run import run_search


def our_study(
    space: SearchSpace, n_trials: int, device: str, folder: Path, precision: str = "fp32"
) -> tuple[dict[str, Any], list[optuna.trial.FrozenTrial]]:
    """``cspsearch run`` as a user runs it (default workers, SQLite storage, artifacts, the
    baseline first), in ``precision`` like the plain script; its wall time and complete trials."""
    options = RunOptions(device=device, artifacts=folder / "artifacts")
    start = time.perf_counter()
    outcome = run_search(
        space,
        n_trials=n_trials,
        storage=f"sqlite:///{folder / 'bench.db'}",
        study_name="bench",
        overrides={"precision": precision},
        options=options,
        progress=False,
    )
    wall = time.perf_counter() - start
    done = outcome.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    trained = _trained(done)
    workers = len({t.user_attrs.get("worker") for t in done})
    figures = {
        "wall_s": wall,
        "trials": len(done),
        "trained": len(trained),
        "workers": workers,
        # The samplers differ (ours: multivariate TPE), so the two sides train different
        # architectures; their mean MACs say how much of a study speed-up is cheaper choices.
        "mean_macs_trained": statistics.fmean(t.user_attrs["macs"] for t in trained)
        if trained
        else None,
    }
    return figures, done


def compare_studies(
    space: SearchSpace,
    n_trials: int,
    device: str,
    folder: Path,
    precision: str = "fp32",
    same_architectures: bool = False,
) -> tuple[dict[str, Any], list[optuna.trial.FrozenTrial]]:
    """Both studies in ``precision``, plain, ours, ours, plain (see the module docstring; with
    ``same_architectures`` the replay pair too); speed-ups for the study and per trained trial
    over both runs of each side, where our trial time goes, and our trained trials."""
    plain_runs = [plain_optuna_study(space, n_trials, device, precision)]
    ours_runs, trained, figures = [], [], {}
    for run in ("a", "b"):
        (folder / run).mkdir(parents=True, exist_ok=True)
        ours, done = our_study(space, n_trials, device, folder / run, precision)
        ours_runs.append(ours)
        trained += _trained(done)
        if same_architectures and run == "a":
            params = [t.params for t in sorted(done, key=lambda t: t.number)]
            replay = plain_optuna_study(space, n_trials, device, precision, replay=params)
            figures["study_speedup_same_architectures"] = replay["wall_s"] / ours["wall_s"]
            figures["same_architectures"] = {"plain_replay": replay, "ours": ours}
    plain_runs.append(plain_optuna_study(space, n_trials, device, precision))
    plain, ours = _pooled(plain_runs), _pooled(ours_runs)
    per_plain = plain["wall_s"] / max(1, plain["trained"])
    per_ours = ours["wall_s"] / max(1, ours["trained"])
    figures.update(
        {
            "study_speedup_vs_plain_optuna": plain["wall_s"] / ours["wall_s"],
            "trial_speedup_vs_plain_optuna": per_plain / per_ours,
            "plain_optuna": {**plain, "per_trained_trial_s": per_plain},
            "our_study": {**ours, "per_trained_trial_s": per_ours},
            **overhead(trained),
        }
    )
    return figures, trained


def _trained(done: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The trials that trained (not over budget, not a reused duplicate)."""
    return [t for t in done if t.user_attrs.get("trained") and "duplicate_of" not in t.user_attrs]


def _pooled(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of one side as one: summed time and trials, each run's wall time, the mean
    MACs of every trained trial."""
    trained = sum(r["trained"] for r in runs)
    macs = sum((r["mean_macs_trained"] or 0) * r["trained"] for r in runs)
    pooled = {
        "wall_s": sum(r["wall_s"] for r in runs),
        "runs_wall_s": [r["wall_s"] for r in runs],
        "trials": sum(r["trials"] for r in runs),
        "trained": trained,
        "mean_macs_trained": macs / trained if trained else None,
    }
    if "workers" in runs[0]:
        pooled["workers"] = max(r["workers"] for r in runs)
    return pooled


def overhead(trials: list[optuna.trial.FrozenTrial]) -> dict[str, Any]:
    """Per trained trial, shares of its wall time (Optuna's start to completion): outside
    optimisation steps; of that, evaluation (precise BN, validation, test) and the harness
    (sampling, build, MAC count, duplicate check, storage writes, artifacts). Medians."""
    rows = []
    for t in trials:
        wall = (t.datetime_complete - t.datetime_start).total_seconds()
        a = t.user_attrs
        rows.append(
            {
                "wall_s": wall,
                "outside": (wall - a["step_time_s"]) / wall,
                "evaluation": (a["train_time_s"] - a["step_time_s"]) / wall,
                "harness": (wall - a["train_time_s"]) / wall,
            }
        )
    if not rows:
        return {"overhead_trials": 0}
    return {
        "overhead_fraction": statistics.median(r["outside"] for r in rows),
        "overhead_evaluation_fraction": statistics.median(r["evaluation"] for r in rows),
        "overhead_harness_fraction": statistics.median(r["harness"] for r in rows),
        "trial_wall_s_median": statistics.median(r["wall_s"] for r in rows),
        "overhead_trials": len(rows),
    }
