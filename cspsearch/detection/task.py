"""The detection task: a CSP backbone + neck (FPN/GFM/EFM) + YOLOv3-style head, scored by
pycocotools' COCO AP50 on the validation split.

Registered as ``detection`` (cspsearch/training/task.py). A trial samples the backbone as a
classification trial does plus the ``detector:`` section; the anchors come from the training
boxes and are part of the architecture. MACs are also split by part (backbone, neck, head).
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import replace
from typing import Any

import numpy as np
import optuna
import torch
from torch import nn

from cspsearch.detection.boxes import detect
from cspsearch.detection.data import DetectionDataset
from cspsearch.detection.data import DetectionSplit
from cspsearch.detection.data import flip
from cspsearch.detection.data import load_detection
from cspsearch.detection.device_ap import device_ap
from cspsearch.detection.evaluate import coco_ap
from cspsearch.detection.loss import detection_loss
from cspsearch.measure.latency import measure_latency
from cspsearch.measure.macs import count_macs
from cspsearch.models.detector import Detector
from cspsearch.space.sampling import sample_config
from cspsearch.space.sampling import sample_detector
from cspsearch.space.searchspace import SearchSpace
from cspsearch.training.loop import TaskHooks
from cspsearch.training.precision import autocast
from cspsearch.training.task import Arch
from cspsearch.training.task import Task
from cspsearch.training.task import register_task


@torch.no_grad()
def detections(
    model: nn.Module, split: DetectionSplit, batch_size: int = 256, precision: str = "fp32"
) -> tuple[torch.Tensor, ...]:
    """(boxes, scores, labels, keep) of ``model`` on every image of ``split``, on the device
    (``detect``'s layout; toggles eval mode itself)."""
    model.eval()
    found = []
    for i in range(0, len(split.x), batch_size):
        with autocast(split.x.device, precision):
            outputs = model(split.x[i : i + batch_size])
        found.append(detect(outputs, model.anchors, model.strides))  # decoded in fp32
    model.train()
    return tuple(torch.cat(parts) for parts in zip(*found))


def evaluate(
    model: nn.Module, split: DetectionSplit, batch_size: int = 256, precision: str = "fp32"
) -> dict[str, float]:
    """COCO AP figures of ``model`` on ``split`` by pycocotools (toggles eval mode itself)."""
    found = detections(model, split, batch_size, precision)
    boxes, scores, labels, keep = (t.cpu() for t in found)  # one sync
    listed = []
    for image, slot in keep.nonzero().tolist():
        x1, y1, x2, y2 = boxes[image, slot].tolist()
        listed.append(
            {
                "image_id": image,
                "category_id": int(labels[image, slot]) + 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": float(scores[image, slot]),
            }
        )
    return coco_ap(split.truth, listed)


def evaluate_on_device(
    model: nn.Module, split: DetectionSplit, num_classes: int, precision: str = "fp32"
) -> dict[str, float]:
    """AP and AP50 of ``model`` on ``split`` computed on the device (device_ap.py): the
    per-epoch validation score; one sync for both figures."""
    scores = device_ap(*detections(model, split, precision=precision), split.targets, num_classes)
    ap, ap50 = torch.stack((scores["ap"], scores["ap50"])).tolist()
    return {"ap": ap, "ap50": ap50}


def detection_hooks(model: nn.Module, data: DetectionDataset, box_loss: str) -> TaskHooks:
    """Batches (flipped when the space augments), the YOLO loss in fp32, AP on the device per
    epoch and pycocotools' COCO AP for the final model."""
    train = data.train

    def batch(idx: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, Any]:
        x, targets = train.x[idx], train.targets[idx]
        return flip(x, targets, generator) if data.augment else (x, targets)

    def loss(outputs: list[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        return detection_loss(outputs, targets, model.anchors, model.strides, box_loss)

    def scores(net: nn.Module, split: str, precision: str) -> dict[str, float]:
        return evaluate(net, data.val if split == "val" else data.test, precision=precision)

    def epoch_scores(net: nn.Module, precision: str) -> dict[str, float]:
        return evaluate_on_device(net, data.val, data.num_classes, precision)

    # NOTE: the per-epoch curve (and early stopping) read AP on the device, the same rule as
    # COCOeval (equal to 1e-6 in tests/detection/test_device_ap.py) and ~0.7 s cheaper an
    # epoch; the trial's validation and test figures stay pycocotools'.
    return TaskHooks(train.x, batch, loss, scores, "ap50", epoch_scores)


@register_task
class Detection(Task):
    name = "detection"
    figures = ("ap50", "ap")
    # Attributes an identical earlier trial lends a duplicate (besides the common ones).
    copied = ("test_coco", "macs_by_part", "anchors")

    def load_data(self, space: SearchSpace, device: str) -> DetectionDataset:
        return load_detection(space.data, device)

    def sample(self, space: SearchSpace, trial: optuna.Trial, data: DetectionDataset) -> Arch:
        model_cfg, train_cfg = sample_config(space, trial)
        detector_cfg = sample_detector(space, trial)
        model_cfg = replace(model_cfg, in_chans=data.in_chans, num_classes=data.num_classes)
        anchors = [list(a) for a in data.anchors]

        def build() -> nn.Module:
            return Detector(
                model_cfg, detector_cfg, data.num_classes, np.array(anchors), data.input_size
            )

        return Arch(
            key=(model_cfg, detector_cfg),
            config={
                "model": model_cfg.to_dict(),
                "detector": asdict(detector_cfg),
                "anchors": anchors,
            },
            train=train_cfg,
            build=build,
            input_size=data.input_size,
            in_chans=data.in_chans,
            attrs={
                "anchors": anchors,
                **{f"detector_{k}": v for k, v in asdict(detector_cfg).items()},
            },
        )

    def hooks(self, model: nn.Module, data: DetectionDataset, arch: Arch) -> TaskHooks:
        return detection_hooks(model, data, arch.config["detector"]["box_loss"])

    def measure(
        self, model: nn.Module, arch: Arch, device: str, latency: bool = True
    ) -> dict[str, Any]:
        size, chans = arch.input_size, arch.in_chans
        report = count_macs(model, size, chans)
        stages = count_macs(model.backbone, size, chans).by_stage
        return {
            **report.attrs(),
            "macs_by_part": report.by_stage,  # top-level modules: backbone, neck, head
            "macs_by_stage": {k: v for k, v in stages.items() if k != "stages"},
            **(measure_latency(model.to(device), size, chans, device) if latency else {}),
        }

    def test_attrs(self, tests: list[dict[str, float]]) -> dict[str, Any]:
        """COCOeval's test figures (AP75, small/medium/large), averaged over the seeds."""
        return {"test_coco": {k: float(np.mean([t[k] for t in tests])) for k in tests[0]}}
