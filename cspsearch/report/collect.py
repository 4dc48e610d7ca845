"""Study storage → ReportData: plain lists and numbers, no plotly and no torch.

A trial is *evaluated* when it is complete and was trained (or copies a trained duplicate);
over-budget trials are complete but infeasible and untrained. Statistics (the Pareto set,
factor tables, comparisons, importances) use each architecture once and only trials trained to
the end (``TrialRow.in_statistics``): a reused duplicate is the same architecture again, not a
replicate (seeds are), and an early-stopped trial's partial accuracy was cut short precisely
because cheaper trials beat it. The Pareto set uses the study's own objectives and directions.
"""

from __future__ import annotations

import warnings
from typing import Any
from typing import NamedTuple

import optuna
from optuna.trial import TrialState

from cspsearch.pareto import pareto_mask
from cspsearch.space.configs import SCORES


class TrialRow(NamedTuple):
    number: int
    state: str  # complete / failed / running / pruned / waiting
    params: dict[str, Any]  # the searched values, as Optuna stored them
    config: dict[str, Any]  # the full model and training config
    values: dict[str, float]  # objective name → value (complete trials only)
    score: float | None  # the validation score: accuracy, or AP50 / AP for detection
    test_score: float | None  # the same score on the test split
    macs: int | None
    flops: int | None
    n_params: int | None
    latency_ms: float | None  # median batch-1 inference latency, when the trial measured it
    fusion: str
    evaluated: bool  # trained (or a copy of a trained duplicate) and feasible
    infeasible: str  # why the budget was exceeded, else ""
    fail_reason: str
    duplicate_of: int | None
    seconds: float | None
    pareto: bool = False
    stopped_at: int | None = None  # the epoch early stopping ended training at, if it did
    latency_ort_ms: float | None = None  # ONNX Runtime's batch-1 latency (measure/onnx.py)
    ort_threads: int | None = None  # the threads latency_ort was measured with

    @property
    def in_statistics(self) -> bool:
        """Trained to the end, feasible, and the first trial of its architecture."""
        return self.evaluated and self.duplicate_of is None and self.stopped_at is None

    @property
    def baseline(self) -> bool:
        """The plain network (no CSP split in any stage)."""
        return self.fusion == "none"


class ReportData(NamedTuple):
    study_name: str
    space_name: str
    objectives: dict[str, str]  # metric name → maximize / minimize
    budget: dict[str, float]
    data: dict[str, Any]
    rows: list[TrialRow]
    versions: dict[str, str]
    device: str
    importances: dict[str, dict[str, float]]  # objective → parameter → PED-ANOVA importance
    metric: str = "accuracy"  # what TrialRow.score measures: accuracy, AP50 or AP

    def count(self, predicate: Any) -> int:
        return sum(1 for r in self.rows if predicate(r))


def collect(
    storage: optuna.storages.BaseStorage | str, study_name: str, importances: bool = True
) -> ReportData:
    """Read one study into ReportData (KeyError if the study does not exist); without
    ``importances`` (1.4 s to import scikit-learn for them) ``ReportData.importances`` is empty."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    names = study.metric_names or [f"objective_{i}" for i in range(len(study.directions))]
    objectives = {n: d.name.lower() for n, d in zip(names, study.directions)}
    score = next((n for n in names if n in SCORES), "val_accuracy")
    rows = [_row(t, names, score) for t in study.get_trials(deepcopy=False)]
    # A reused duplicate is the same architecture, not another point of the front.
    distinct = [r for r in rows if r.in_statistics]
    front = pareto_mask(
        [[r.values[n] for n in objectives] for r in distinct], list(objectives.values())
    )
    on_front = {r.number for r, keep in zip(distinct, front) if keep}
    rows = [r._replace(pareto=r.number in on_front) for r in rows]
    space = study.user_attrs.get("space", {})
    first = next((r for r in study.get_trials(deepcopy=False) if "versions" in r.user_attrs), None)
    return ReportData(
        study_name=study_name,
        space_name=str(study.user_attrs.get("space_name", "")),
        objectives=objectives,
        budget=space.get("budget", {}),
        data=space.get("data", {}),
        rows=rows,
        versions=first.user_attrs["versions"] if first else {},
        device=str(first.user_attrs.get("device", "")) if first else "",
        importances=_importances(study, {r.number for r in distinct}, objectives)
        if importances
        else {},
        metric=SCORES.get(score, "accuracy"),
    )


def _importances(
    study: optuna.Study, evaluated: set[int], objectives: dict[str, str]
) -> dict[str, dict[str, float]]:
    """Parameter importances (Optuna's default, PED-ANOVA) per objective, over the trials in
    ``evaluated`` only: untrained over-budget trials would otherwise count as 0 accuracy,
    duplicates as extra samples and early-stopped ones with their partial accuracy."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.number in evaluated]
    if len(trials) < 4:
        return {}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a scratch study: nothing to announce
    try:
        copy = optuna.create_study(directions=study.directions)
    finally:
        optuna.logging.set_verbosity(verbosity)
    copy.add_trials(trials)
    out = {}
    for i, (name, direction) in enumerate(objectives.items()):
        sign = -1.0 if direction == "maximize" else 1.0  # PED-ANOVA ranks low target values

        def target(t: optuna.trial.FrozenTrial, i: int = i, sign: float = sign) -> float:
            return sign * t.values[i]

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[name] = optuna.importance.get_param_importances(copy, target=target)
        except (ValueError, RuntimeError):  # e.g. a parameter with one value only
            continue
    return out


def _row(t: optuna.trial.FrozenTrial, names: list[str], score: str) -> TrialRow:
    a = t.user_attrs
    complete = t.state == TrialState.COMPLETE
    feasible = all(v <= 0 for v in t.constraints.values())
    fusion = a.get("config", {}).get("model", {}).get("fusion", [])
    seconds = a.get("trial_time_s")
    return TrialRow(
        number=t.number,
        state={"COMPLETE": "complete", "FAIL": "failed"}.get(t.state.name, t.state.name.lower()),
        params=dict(t.params),
        config=a.get("config", {}),
        values=dict(zip(names, t.values)) if complete and t.values else {},
        score=a.get(score),
        test_score=a.get("test_" + score.removeprefix("val_")),
        macs=a.get("macs"),
        flops=a.get("flops"),
        n_params=a.get("params"),
        latency_ms=a.get("latency"),
        fusion="none"
        if fusion and all(f == "none" for f in fusion)
        else "/".join(sorted(set(fusion), key=fusion.index))
        if fusion
        else "",
        evaluated=complete and feasible and bool(a.get("trained")),
        infeasible=str(a.get("infeasible", "")),
        fail_reason=str(a.get("fail_reason", "")),
        duplicate_of=a.get("duplicate_of"),
        seconds=float(seconds) if seconds is not None else None,
        stopped_at=a.get("stopped_at_epoch"),
        latency_ort_ms=a.get("latency_ort"),
        ort_threads=a.get("ort_threads"),
    )
