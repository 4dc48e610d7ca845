"""Brief training of one detector, scored by pycocotools' COCOeval (no Optuna here).

The same conventions as classification (cspsearch/train.py): data on the device, seeded batch
order, AdamW with warm-up + cosine, precise BN before each evaluation, one host sync per epoch
for the loss, a per-epoch callback, a deadline. The score is COCO AP50 on the validation split.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from dataclasses import replace

import torch
from torch import nn

from cspsearch.configs import TrainConfig
from cspsearch.detection.boxes import detect
from cspsearch.detection.data import DetectionDataset
from cspsearch.detection.data import DetectionSplit
from cspsearch.detection.data import flip
from cspsearch.detection.evaluate import coco_ap
from cspsearch.detection.loss import detection_loss
from cspsearch.errors import TrainDiverged
from cspsearch.errors import TrialTimeout
from cspsearch.precision import autocast
from cspsearch.precision import resolve_precision
from cspsearch.precision import training_precision
from cspsearch.train import EpochCallback
from cspsearch.train import get_lr
from cspsearch.train import make_optimizer
from cspsearch.train import recalibrate_bn


@dataclass(frozen=True)
class DetectionResult:
    val_ap50: list[float]  # one per epoch; the last one is the trial's score
    val_ap: list[float]  # COCO AP (IoU 0.50:0.95) per epoch
    train_loss: list[float]
    test: dict[str, float]  # COCOeval figures of the final model on the test split
    train_time_s: float
    precision: str = "fp32"  # what ran: fp32 or bf16 (autocast)


@torch.no_grad()
def evaluate(
    model: nn.Module, split: DetectionSplit, batch_size: int = 256, precision: str = "fp32"
) -> dict[str, float]:
    """COCO AP figures of ``model`` on ``split`` (toggles eval mode itself)."""
    model.eval()
    found = []
    for i in range(0, len(split.x), batch_size):
        with autocast(split.x.device, precision):
            outputs = model(split.x[i : i + batch_size])
        found.append(detect(outputs, model.anchors, model.strides))  # decoded in fp32
    model.train()
    boxes, scores, labels, keep = (torch.cat(parts).cpu() for parts in zip(*found))  # one sync
    detections = []
    for image, slot in keep.nonzero().tolist():
        x1, y1, x2, y2 = boxes[image, slot].tolist()
        detections.append(
            {
                "image_id": image,
                "category_id": int(labels[image, slot]) + 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": float(scores[image, slot]),
            }
        )
    return coco_ap(split.truth, detections)


def train_detector(
    model: nn.Module,
    data: DetectionDataset,
    cfg: TrainConfig,
    box_loss: str = "giou",
    on_epoch: EpochCallback | None = None,
    deadline: float | None = None,
) -> DetectionResult:
    """Train ``model`` (a Detector on the data's device) for ``cfg.epochs`` epochs, in
    ``cfg.precision`` (the loss is always computed in fp32)."""
    start = time.perf_counter()
    train = data.train
    device = train.x.device
    precision = resolve_precision(device, cfg.precision)
    with training_precision(model, device, precision):
        result = _train(model, data, cfg, box_loss, on_epoch, deadline, precision)
    return replace(result, train_time_s=time.perf_counter() - start)


def _train(
    model: nn.Module,
    data: DetectionDataset,
    cfg: TrainConfig,
    box_loss: str,
    on_epoch: EpochCallback | None,
    deadline: float | None,
    precision: str,
) -> DetectionResult:
    train = data.train
    device = train.x.device
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = make_optimizer(model, cfg, device)  # the classification trainer's AdamW
    n = len(train.x)
    total, step = cfg.epochs * math.ceil(n / cfg.batch_size), 0
    val_ap50, val_ap, train_loss = [], [], []
    model.train()
    for epoch in range(cfg.epochs):
        order = torch.randperm(n, generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        for i in range(0, n, cfg.batch_size):
            for group in optimizer.param_groups:
                group["lr"] = get_lr(step, total, cfg)
            idx = order[i : i + cfg.batch_size]
            x, targets = train.x[idx], train.targets[idx]
            if data.augment:
                x, targets = flip(x, targets, generator)
            with autocast(device, precision):
                outputs = model(x)
            loss = detection_loss(outputs, targets, model.anchors, model.strides, box_loss)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            step += 1
            if deadline is not None and time.perf_counter() > deadline:
                raise TrialTimeout(f"the trial's time ran out in epoch {epoch + 1}, step {step}")
        train_loss.append(loss_sum.item() / n)
        if not math.isfinite(train_loss[-1]):
            raise TrainDiverged(f"training loss became {train_loss[-1]} in epoch {epoch + 1}")
        if cfg.precise_bn:
            recalibrate_bn(model, train.x[: cfg.precise_bn], precision=precision)
        scores = evaluate(model, data.val, precision=precision)
        val_ap50.append(scores["ap50"])
        val_ap.append(scores["ap"])
        if on_epoch is not None:
            on_epoch(epoch, val_ap50[-1])
    test = evaluate(model, data.test, precision=precision)
    return DetectionResult(val_ap50, val_ap, train_loss, test, 0.0, precision)
