"""A trial's results as user attributes: the runs of every seed summarised, for any task.

For each evaluation figure ``f`` of the task (accuracy; ap50 and ap): ``val_f`` (the mean over
seeds of the last epoch), ``val_f_curve`` (the mean per epoch), ``test_f``; for the score also
``val_f_std``. ``seed_results`` keeps every seed's own numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from cspsearch.training.loop import TrainResult
from cspsearch.training.task import Task

# Attributes copied from an identical earlier trial instead of counting and training again
# (a task may name more: Task.copied).
COPIED = (
    "macs",
    "flops",
    "params",
    "params_no_bn",
    "input_size",
    "macs_by_stage",
    "macs_by_operator",
    "unsupported_ops",
    "activations",
    "latency",
    "latency_b32",
    "latency_ort",
    "latency_ort_missing",
    "ort_threads",
    "ort_exporter",
    "ort_max_abs_diff",
    "val_accuracy_std",
    "seed_results",
    "trained",
    "val_accuracy",
    "val_accuracy_curve",
    "val_ap50",
    "val_ap",
    "val_ap50_curve",
    "val_ap_curve",
    "val_ap50_std",
    "test_ap50",
    "test_ap",
    "train_loss_curve",
    "test_accuracy",
    "train_time_s",
    "step_time_s",
    "precision",
    "stopped_at_epoch",
    "early_stop_reason",
    "infeasible",
    "gradient_duplication",
    "gradient_duplication_stages",
)


def _mean_curve(curves: Sequence[Sequence[float]]) -> list[float]:
    return [statistics.fmean(v) for v in zip(*curves)]


def seed_result(seed: int, result: TrainResult, figures: Sequence[str]) -> dict[str, Any]:
    """One seed's numbers."""
    out: dict[str, Any] = {"seed": seed}
    for f in figures:
        out[f"val_{f}"] = result.val[-1][f]
        out[f"test_{f}"] = result.test[f]
        out[f"val_{f}_curve"] = result.curve(f)
    return {
        **out,
        "train_loss_curve": result.train_loss,
        "train_time_s": result.train_time_s,
        "step_time_s": result.step_time_s,
    }


def summarise(runs: Sequence[tuple[int, TrainResult]], task: Task) -> dict[str, Any]:
    """The user attributes of a trial trained once per seed (``runs``: seed, result)."""
    seeds = [seed_result(seed, r, task.figures) for seed, r in runs]
    out: dict[str, Any] = {"trained": True}
    for f in task.figures:
        out[f"val_{f}"] = statistics.fmean(s[f"val_{f}"] for s in seeds)
        out[f"test_{f}"] = statistics.fmean(s[f"test_{f}"] for s in seeds)
        out[f"val_{f}_curve"] = _mean_curve([s[f"val_{f}_curve"] for s in seeds])
    finals = [s[f"val_{task.figures[0]}"] for s in seeds]
    out[f"val_{task.figures[0]}_std"] = statistics.stdev(finals) if len(finals) > 1 else 0.0
    return {
        **out,
        "train_loss_curve": _mean_curve([s["train_loss_curve"] for s in seeds]),
        "train_time_s": sum(s["train_time_s"] for s in seeds),
        "step_time_s": sum(s["step_time_s"] for s in seeds),
        "precision": runs[-1][1].precision,
        "seed_results": seeds,
        **task.test_attrs([r.test for _, r in runs]),
    }
