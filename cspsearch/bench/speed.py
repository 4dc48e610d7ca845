"""Training speed per architecture, measured side by side: our trainer against the plain
DataLoader loop (plain.py) in the same precision (fp32), and our trainer in bf16 against fp32
only where the device computes bf16 natively (elsewhere bf16 is emulated: ``n/a``)."""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from typing import Any

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
from cspsearch.training.loop import make_optimizer
from cspsearch.training.precision import autocast
from cspsearch.training.precision import training_precision

GEMM_OPERATORS = ("conv", "linear", "matmul", "addmm", "bmm", "einsum")  # fvcore's names


def gemm_macs(by_operator: dict[str, int]) -> int:
    """MACs of convolutions and matrix products only (not BatchNorm, pooling, …)."""
    return sum(v for k, v in by_operator.items() if k in GEMM_OPERATORS)


def configs_of(trials: list[Any]) -> list[tuple[ModelConfig, TrainConfig, int]]:
    """The model and training configs the trials recorded, with their GEMM MACs."""
    out = []
    for t in trials:
        cfg, a = t.user_attrs["config"], t.user_attrs
        train = TrainConfig(**{**cfg["train"], "precision": "fp32"})
        out.append((ModelConfig(**cfg["model"]), train, gemm_macs(a["macs_by_operator"])))
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
    configs: list[tuple[ModelConfig, TrainConfig, int]],
    data: Dataset,
    device: str,
    precisions: tuple[str, ...],
    budget_s: float,
) -> list[dict[str, Any]]:
    """Each architecture ``(model, train, GEMM MACs)`` trained by us in each of ``precisions``
    and by the plain loop (fp32), one after the other so machine load hits them alike; no new
    architecture is started past ``budget_s`` seconds (at least one is measured)."""
    rows, start = [], time.perf_counter()
    for model_cfg, train_cfg, macs in configs:
        if rows and time.perf_counter() - start > budget_s:
            break
        row: dict[str, Any] = {"gemm_macs": macs, "fusion": list(model_cfg.fusion)}
        # Untimed warm-up of each runner: oneDNN builds kernels per new shape on first use
        # (measured: a first run took 2.6× a second), which the first runner would pay alone.
        short = replace(train_cfg, epochs=1)
        for p in precisions:
            _ours(model_cfg, replace(short, precision=p), data, device)
        plain_loop(build_model(model_cfg).to(device), data, short, device)
        for p in precisions:
            row[p] = _ours(model_cfg, replace(train_cfg, precision=p), data, device)
        torch.manual_seed(train_cfg.seed)
        row["plain_fp32"] = plain_loop(build_model(model_cfg).to(device), data, train_cfg, device)
        rows.append(row)
    return rows


def summarise(rows: list[dict[str, Any]], n_train: int, gemm: dict[str, Any]) -> dict[str, Any]:
    """GEMM fraction and speed-ups, each between runs of the same precision (bf16 figures are
    ``n/a`` where bf16 was not measured)."""
    out: dict[str, Any] = {"compared": len(rows)}
    for p in ("fp32", "bf16"):
        if p not in rows[0] or not isinstance(gemm.get(p), float):
            out[f"gemm_fraction_{p}"] = out[f"train_gflops_{p}"] = gemm.get(p, "n/a")
            continue
        # Training FLOPs of convolutions and linear layers: fwd + bwd ≈ 3 × fwd, 2 per MAC.
        flops = sum(6 * r["gemm_macs"] * n_train * r[p]["epochs"] for r in rows)
        achieved = flops / sum(r[p]["step_time_s"] for r in rows)
        out[f"train_gflops_{p}"] = achieved / 1e9
        out[f"gemm_fraction_{p}"] = achieved / (gemm[p] * 1e9)
    plain = sum(r["plain_fp32"]["time_s"] for r in rows)
    out["speedup_vs_dataloader_fp32"] = plain / sum(r["fp32"]["time_s"] for r in rows)
    if "bf16" in rows[0]:
        fp32 = sum(r["fp32"]["time_s"] for r in rows)
        out["speedup_bf16_vs_fp32"] = fp32 / sum(r["bf16"]["time_s"] for r in rows)
        out["precision_agreement"] = agreement(rows)
    else:
        out["speedup_bf16_vs_fp32"] = gemm.get("bf16", "n/a")
    return out


def agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether bf16 changes the conclusions: accuracy differences on the same architectures
    and the Pareto sets (accuracy vs GEMM MACs) each precision gives."""
    diffs = [r["bf16"]["val_accuracy"] - r["fp32"]["val_accuracy"] for r in rows]
    fronts = {
        p: pareto_mask(
            [[r[p]["val_accuracy"], r["gemm_macs"]] for r in rows], ["maximize", "minimize"]
        )
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
