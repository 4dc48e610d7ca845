"""Trial speed, measured side by side: the harness overhead of a real study, and per
architecture our trainer in fp32 and bf16 against the plain DataLoader loop (plain.py)."""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import optuna
import torch
import torch.nn.functional as F

from cspsearch.bench.machine import profile_step
from cspsearch.bench.plain import plain_loop
from cspsearch.classification.data import Dataset
from cspsearch.classification.task import train_briefly
from cspsearch.models import build_model
from cspsearch.pareto import pareto_mask
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import TrainConfig
from cspsearch.space.searchspace import SearchSpace
from cspsearch.training.loop import make_optimizer
from cspsearch.training.precision import autocast
from cspsearch.training.precision import training_precision
from cspsearch.trials.artifacts import artifact_store
from cspsearch.trials.objective import Objective
from cspsearch.trials.study import make_sampler
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study
from cspsearch.trials.study import run_study


def run_overhead_study(
    space: SearchSpace, n_trials: int, device: str, folder: Path
) -> list[optuna.trial.FrozenTrial]:
    """A real study, as ``cspsearch run`` does it (SQLite storage, artifacts, baseline first);
    its trained trials, duplicates and over-budget ones left out."""
    storage = open_storage(f"sqlite:///{folder / 'bench.db'}")
    study = open_study(space, storage, "overhead", make_sampler("tpe", 0, space))
    if space.baseline_params():
        study.enqueue_trial(space.baseline_params())
    objective = Objective(space, device, artifacts=artifact_store(folder / "artifacts"))
    run_study(study, objective, n_trials, None)
    return [
        t
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.user_attrs.get("trained") and "duplicate_of" not in t.user_attrs
    ]


def overhead(trials: list[optuna.trial.FrozenTrial]) -> dict[str, Any]:
    """Per trial, the share of its wall time (Optuna's start to completion: sampling, build,
    MAC count, latency, training, evaluation, storage writes) outside optimisation steps."""
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
    return {
        "overhead_fraction": statistics.median(r["outside"] for r in rows),
        "overhead_evaluation_fraction": statistics.median(r["evaluation"] for r in rows),
        "overhead_harness_fraction": statistics.median(r["harness"] for r in rows),
        "trial_wall_s_median": statistics.median(r["wall_s"] for r in rows),
        "overhead_trials": len(rows),
    }


def configs_of(trials: list[optuna.trial.FrozenTrial]) -> list[tuple[ModelConfig, TrainConfig]]:
    """The model and training configs the trials recorded."""
    out = []
    for t in trials:
        cfg = t.user_attrs["config"]
        out.append((ModelConfig(**cfg["model"]), TrainConfig(**cfg["train"])))
    return out


def _ours(model_cfg: ModelConfig, cfg: TrainConfig, data: Dataset, device: str) -> dict:
    torch.manual_seed(cfg.seed)
    result = train_briefly(build_model(model_cfg).to(device), data, cfg)
    return {
        "time_s": result.train_time_s,
        "step_time_s": result.step_time_s,
        "epochs": len(result.val),
        "val_accuracy": result.val[-1]["accuracy"],
        "test_accuracy": result.test["accuracy"],
    }


def compare(
    configs: list[tuple[ModelConfig, TrainConfig, int]], data: Dataset, device: str
) -> list[dict[str, Any]]:
    """Each architecture ``(model, train, MACs)`` trained by us in fp32 and in bf16 and by the
    plain loop, one after the other, so machine load hits all three alike."""
    rows = []
    for model_cfg, train_cfg, macs in configs:
        row: dict[str, Any] = {"macs": macs, "fusion": list(model_cfg.fusion)}
        # Untimed warm-up of all three: oneDNN/cuDNN build kernels per new shape on first use
        # (measured: a first run took 2.6× a second), which the first runner would pay alone.
        short = replace(train_cfg, epochs=1)
        for p in ("fp32", "bf16"):
            _ours(model_cfg, replace(short, precision=p), data, device)
        plain_loop(build_model(model_cfg).to(device), data, short, device)
        for p in ("fp32", "bf16"):
            row[p] = _ours(model_cfg, replace(train_cfg, precision=p), data, device)
        torch.manual_seed(train_cfg.seed)
        row["plain_fp32"] = plain_loop(build_model(model_cfg).to(device), data, train_cfg, device)
        rows.append(row)
    return rows


def summarise(
    rows: list[dict[str, Any]], n_train: int, gemm: dict[str, float], precision: str
) -> dict[str, Any]:
    """gemm_fraction per dtype, speed-ups and the bf16-vs-fp32 accuracy agreement."""

    def achieved(p: str) -> float:  # training FLOP/s: fwd+bwd ≈ 3 × fwd, FLOPs = 2 × MACs
        flops = sum(6 * r["macs"] * n_train * r[p]["epochs"] for r in rows)
        return flops / sum(r[p]["step_time_s"] for r in rows)

    out: dict[str, Any] = {}
    for p in ("fp32", "bf16"):
        out[f"train_gflops_{p}"] = achieved(p) / 1e9
        out[f"gemm_fraction_{p}"] = achieved(p) / gemm[p]
    out["gemm_fraction"] = out[f"gemm_fraction_{precision}"]
    ours = sum(r[precision]["time_s"] for r in rows)
    out["speedup_vs_dataloader"] = sum(r["plain_fp32"]["time_s"] for r in rows) / ours
    out["speedup_ours_fp32_vs_dataloader"] = sum(r["plain_fp32"]["time_s"] for r in rows) / sum(
        r["fp32"]["time_s"] for r in rows
    )
    out["speedup_bf16_vs_fp32"] = sum(r["fp32"]["time_s"] for r in rows) / sum(
        r["bf16"]["time_s"] for r in rows
    )
    out["precision_agreement"] = agreement(rows)
    return out


def agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether bf16 changes the conclusions: accuracy differences on the same architectures
    and the Pareto sets (accuracy vs MACs) each precision gives."""
    diffs = [r["bf16"]["val_accuracy"] - r["fp32"]["val_accuracy"] for r in rows]
    fronts = {
        p: pareto_mask([[r[p]["val_accuracy"], r["macs"]] for r in rows], ["maximize", "minimize"])
        for p in ("fp32", "bf16")
    }
    same = sum(a == b for a, b in zip(fronts["fp32"], fronts["bf16"]))
    return {
        "architectures": len(rows),
        "mean_val_accuracy_diff": statistics.fmean(diffs),
        "max_abs_val_accuracy_diff": max(abs(d) for d in diffs),
        "pareto_membership_agrees": f"{same}/{len(rows)}",
    }


def profile(model_cfg: ModelConfig, data: Dataset, device: str, precision: str) -> dict:
    """Where one training step's time goes (torch.profiler, by operator group)."""
    torch.manual_seed(0)
    model = build_model(model_cfg).to(device)
    cfg = TrainConfig()
    optimizer = make_optimizer(model, cfg, torch.device(device))
    x, y = data.train_x[: cfg.batch_size], data.train_y[: cfg.batch_size]

    def step() -> None:
        with autocast(device, precision):
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    with training_precision(model, device, precision):
        return profile_step(step)
