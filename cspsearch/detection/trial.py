"""One detection trial's measurements: sample → anchors → build → count MACs → train → AP.

Called by cspsearch.objective.Objective for a space whose dataset is a detection dataset; it
returns the trial's user attributes, and the Objective does the rest (duplicates, budgets,
storage) exactly as for classification.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any

import numpy as np
import optuna
import torch

from cspsearch.detection.data import load_detection
from cspsearch.detection.train import train_detector
from cspsearch.latency import measure_latency
from cspsearch.macs import count_macs
from cspsearch.models.detector import Detector
from cspsearch.precision import resolve_precision
from cspsearch.sampling import sample_config
from cspsearch.sampling import sample_detector

if TYPE_CHECKING:
    from cspsearch.objective import Objective


# Attributes an identical earlier trial lends a duplicate (besides the classification ones).
DETECTION_COPIED = (
    "val_ap50",
    "val_ap",
    "val_ap50_curve",
    "val_ap_curve",
    "test_ap50",
    "test_ap",
    "test_coco",
    "macs_by_part",
    "anchors",
)


def detection_attrs(objective: Objective, trial: optuna.Trial) -> dict[str, Any]:
    """Everything a detection trial records (MACs per part, AP, AP50, anchors, options)."""
    space, device = objective.space, objective.device
    data = load_detection(space.data, device)
    model_cfg, train_cfg = sample_config(space, trial)
    detector_cfg = sample_detector(space, trial)
    model_cfg = replace(model_cfg, in_chans=data.in_chans, num_classes=data.num_classes)
    # The precision that runs (auto → fp32 or bf16) is part of the trial's configuration.
    train_cfg = replace(train_cfg, precision=resolve_precision(device, train_cfg.precision))
    anchors = data.anchors
    config = {
        "model": model_cfg.to_dict(),
        "detector": asdict(detector_cfg),
        "train": asdict(train_cfg),
        "anchors": [list(a) for a in anchors],
    }
    key = json.dumps(config, sort_keys=True)
    attrs: dict[str, Any] = {
        "config": json.loads(key),
        "config_key": key,
        "device": device,
        "versions": objective.software,
        "anchors": config["anchors"],
        **{f"detector_{k}": v for k, v in asdict(detector_cfg).items()},
    }
    earlier = objective.find_duplicate(trial, key)
    if earlier is not None:
        return objective.copy_from(trial, earlier, attrs, DETECTION_COPIED)
    torch.manual_seed(train_cfg.seed)
    model = Detector(model_cfg, detector_cfg, data.num_classes, np.array(anchors), data.input_size)
    arch = (model_cfg, detector_cfg)
    if arch not in objective.measured:
        size, chans = data.input_size, data.in_chans
        report = count_macs(model, size, chans)
        stages = count_macs(model.backbone, size, chans).by_stage
        objective.measured[arch] = {
            **report.attrs(),
            "macs_by_part": report.by_stage,  # top-level modules: backbone, neck, head
            "macs_by_stage": {k: v for k, v in stages.items() if k != "stages"},
            **measure_latency(model.to(device), size, chans, device),
        }
    attrs.update(objective.measured[arch])
    over = objective.set_constraints(trial, attrs)
    if over:
        return {**attrs, "trained": False, "infeasible": over}
    result = train_detector(
        model.to(device),
        data,
        train_cfg,
        detector_cfg.box_loss,
        objective.epoch_callback(trial.number, 0, train_cfg),
        objective.deadline(),
    )
    return {
        **attrs,
        "trained": True,
        "val_ap50": result.val_ap50[-1],
        "val_ap": result.val_ap[-1],
        "val_ap50_curve": result.val_ap50,
        "val_ap_curve": result.val_ap,
        "train_loss_curve": result.train_loss,
        "test_ap50": result.test["ap50"],
        "test_ap": result.test["ap"],
        "test_coco": result.test,
        "train_time_s": result.train_time_s,
        "precision": result.precision,
    }
