"""One classification trial's measurements: sample → build → count MACs → train (× seeds).

Called by cspsearch.objective.Objective for a space whose dataset is a classification dataset
(detection: cspsearch/detection/trial.py); it returns the trial's user attributes, and the
Objective does the rest (duplicates, budgets, storage).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

import optuna
import torch

from cspsearch.configs import ModelConfig
from cspsearch.configs import TrainConfig
from cspsearch.data import Dataset
from cspsearch.data import load_dataset
from cspsearch.early_stop import TrialStopper
from cspsearch.latency import measure_latency
from cspsearch.macs import count_macs
from cspsearch.models import build_model
from cspsearch.precision import resolve_precision
from cspsearch.sampling import sample_config
from cspsearch.train import train_briefly

if TYPE_CHECKING:
    from cspsearch.objective import Objective


def classification_attrs(objective: Objective, trial: optuna.Trial) -> dict[str, Any]:
    """Sample, build, count and train one classifier; its user attributes."""
    data = load_dataset(objective.space.data, objective.device)
    model_cfg, train_cfg = sample_config(objective.space, trial)
    model_cfg = replace(model_cfg, in_chans=data.in_chans, num_classes=data.num_classes)
    # The precision that runs (auto → fp32 or bf16) is part of the trial's configuration.
    train_cfg = replace(
        train_cfg, precision=resolve_precision(objective.device, train_cfg.precision)
    )
    key = json.dumps({"model": model_cfg.to_dict(), "train": asdict(train_cfg)}, sort_keys=True)
    attrs: dict[str, Any] = {
        "config": json.loads(key),
        "config_key": key,
        "device": objective.device,
        "versions": objective.software,
    }
    earlier = objective.find_duplicate(trial, key)
    if earlier is not None:  # neither trained nor counted again
        return objective.copy_from(trial, earlier, attrs)
    torch.manual_seed(train_cfg.seed)  # model initialisation
    model = build_model(model_cfg)
    if model_cfg not in objective.measured:  # the untrained network is timed as well
        size, device = objective.space.data.input_size, objective.device
        objective.measured[model_cfg] = {
            **count_macs(model, size, data.in_chans).attrs(),
            **measure_latency(model.to(device), size, data.in_chans, device),
        }
    attrs.update(objective.measured[model_cfg])
    over = objective.set_constraints(trial, attrs)
    if over:
        attrs.update(trained=False, infeasible=over)
    else:
        stopper = objective.stopper(trial, attrs, train_cfg)
        attrs.update(_train(objective, trial.number, model, model_cfg, train_cfg, data, stopper))
    return attrs


def _train(
    objective: Objective,
    number: int,
    model: torch.nn.Module,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    data: Dataset,
    stopper: TrialStopper | None = None,
) -> dict[str, Any]:
    """Train ``train_cfg.seeds`` times (seeds seed, seed+1, …); the scores are the means.
    ``stopper`` (--early-stop) may end the runs early; see cspsearch/early_stop.py."""
    runs = []
    deadline = objective.deadline()
    for k in range(train_cfg.seeds):
        cfg = replace(train_cfg, seed=train_cfg.seed + k)
        if k:  # a fresh initialisation for every further seed
            torch.manual_seed(cfg.seed)
            model = build_model(model_cfg)
        callback = objective.epoch_callback(number, k, cfg)
        if stopper is not None:
            callback = stopper.callback(k, callback)
        result = train_briefly(model.to(objective.device), data, cfg, callback, deadline)
        runs.append(
            {
                "seed": cfg.seed,
                "val_accuracy": result.val_accuracy[-1],
                "test_accuracy": result.test_accuracy,
                "val_accuracy_curve": result.val_accuracy,
                "train_loss_curve": result.train_loss,
                "train_time_s": result.train_time_s,
                "step_time_s": result.step_time_s,
            }
        )
    finals = [r["val_accuracy"] for r in runs]
    return {
        "trained": True,
        "val_accuracy": statistics.fmean(finals),
        "val_accuracy_std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
        "test_accuracy": statistics.fmean(r["test_accuracy"] for r in runs),
        "val_accuracy_curve": [
            statistics.fmean(v) for v in zip(*(r["val_accuracy_curve"] for r in runs))
        ],
        "train_loss_curve": [
            statistics.fmean(v) for v in zip(*(r["train_loss_curve"] for r in runs))
        ],
        "train_time_s": sum(r["train_time_s"] for r in runs),
        "step_time_s": sum(r["step_time_s"] for r in runs),
        "precision": result.precision,
        "seed_results": runs,
        **(stopper.attrs() if stopper is not None else {}),
    }
