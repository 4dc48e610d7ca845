"""The static-shape YOLO loss equals the loss of commit 9b54720 (selection by ``nonzero`` and
boolean indexing, kept below as the reference) on random and on real batches, gradients too."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from cspsearch.detection.boxes import aligned_iou
from cspsearch.detection.boxes import decode
from cspsearch.detection.data import flip
from cspsearch.detection.data import load_detection
from cspsearch.detection.loss import WEIGHTS
from cspsearch.detection.loss import detection_loss
from cspsearch.models.detector import Detector
from cspsearch.space.configs import DataConfig
from cspsearch.space.configs import DetectorConfig
from tests.models.test_necks import BACKBONE

STRIDES = (4, 8, 16)
ANCHORS = torch.tensor(
    [[[4.0, 4.0], [6, 6], [8, 8]], [[12, 12], [16, 16], [20, 20]], [[28, 28], [36, 36], [44, 44]]]
)


def reference_loss(outputs, targets, anchors, strides, box_loss="giou"):
    """detection_loss as at 9b54720 (dynamic shapes, host syncs), verbatim but for layout."""
    image, slot = (targets[..., 0] >= 0).nonzero(as_tuple=True)
    boxes = targets[image, slot]
    wh = boxes[:, 3:5] - boxes[:, 1:3]
    flat = anchors.view(-1, 2)
    inter = torch.min(wh[:, None], flat[None]).prod(-1)
    best = (inter / (wh.prod(-1)[:, None] + flat.prod(-1)[None] - inter)).argmax(1)
    level, anchor = best // anchors.shape[1], best % anchors.shape[1]
    device = outputs[0].device
    box_t = obj_t = cls_t = torch.zeros((), device=device)
    for s, (raw, stride) in enumerate(zip(outputs, strides)):
        raw = raw.float()
        target_obj = torch.zeros(raw.shape[:4], device=device)
        on = level == s
        b, a, box = image[on], anchor[on], boxes[on]
        size = raw.shape[2]
        centre = (box[:, 1:3] + box[:, 3:5]) / 2 / stride
        cell = centre.long().clamp(0, size - 1)
        step = torch.where(centre - cell < 0.5, -1, 1)
        x_side = cell + torch.stack((step[:, 0], torch.zeros_like(step[:, 0])), 1)
        y_side = cell + torch.stack((torch.zeros_like(step[:, 1]), step[:, 1]), 1)
        cells = torch.cat((cell, x_side, y_side))
        inside = ((cells >= 0) & (cells < size)).all(1)
        b, a, box = b.repeat(3)[inside], a.repeat(3)[inside], box.repeat(3, 1)[inside]
        cells = cells[inside]
        picked = raw[b, a, cells[:, 1], cells[:, 0]]
        if len(picked):
            iou = aligned_iou(decode(picked, anchors[s][a], stride, cells), box[:, 1:5], box_loss)
            box_t = box_t + (1 - iou).sum()
            target_obj[b, a, cells[:, 1], cells[:, 0]] = 1.0
            classes = F.one_hot(box[:, 0].long(), raw.shape[-1] - 5).to(raw.dtype)
            cls_t = cls_t + F.binary_cross_entropy_with_logits(
                picked[:, 5:], classes, reduction="sum"
            )
        obj_t = obj_t + F.binary_cross_entropy_with_logits(
            raw[..., 4], target_obj, reduction="sum"
        )
    total = WEIGHTS["box"] * box_t + WEIGHTS["obj"] * obj_t + WEIGHTS["cls"] * cls_t
    return total / max(1, len(boxes))


def _random_targets(g: torch.Generator, batch: int, most: int, classes: int) -> torch.Tensor:
    targets = torch.full((batch, most, 5), -1.0)
    for i in range(batch):
        k = int(torch.randint(0, most + 1, (1,), generator=g))  # 0 boxes happens too
        xy = torch.rand(k, 2, generator=g) * 60
        wh = 1 + torch.rand(k, 2, generator=g) * 50
        x2y2 = (xy + wh).clamp(max=64)  # boxes at the image border
        targets[i, :k, 0] = torch.randint(0, classes, (k,), generator=g).float()
        targets[i, :k, 1:] = torch.cat((xy, x2y2), 1)
    return targets


def _both(outputs, targets, anchors, strides, box_loss):
    grads = []
    for fn in (reference_loss, detection_loss):
        leaves = [o.detach().clone().requires_grad_() for o in outputs]
        value = fn(leaves, targets, anchors, strides, box_loss)
        value.backward()
        grads.append((value.detach(), [leaf.grad for leaf in leaves]))
    return grads


@pytest.mark.parametrize("box_loss", ["iou", "giou", "diou", "ciou"])
def test_equals_the_reference_on_random_batches(box_loss: str) -> None:
    g = torch.Generator().manual_seed(1)
    for batch in (1, 4, 16):
        targets = _random_targets(g, batch, most=6, classes=4)
        outputs = [torch.randn(batch, 3, 64 // s, 64 // s, 9, generator=g) for s in STRIDES]
        (want, want_grads), (got, got_grads) = _both(
            outputs, targets, ANCHORS, STRIDES, box_loss
        )
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        for a, b in zip(got_grads, want_grads):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_a_batch_without_boxes_has_only_the_objectness_term() -> None:
    targets = torch.full((2, 3, 5), -1.0)
    outputs = [torch.randn(2, 3, 64 // s, 64 // s, 9) for s in STRIDES]
    got = detection_loss(outputs, targets, ANCHORS, STRIDES)
    torch.testing.assert_close(got, reference_loss(outputs, targets, ANCHORS, STRIDES))
    assert torch.isfinite(got)


@pytest.fixture(scope="module")
def data(shapes_json: Path):
    cfg = DataConfig(dataset="coco", path=str(shapes_json.parent), input_size=64, augment=True)
    return load_detection(cfg)


def test_equals_the_reference_on_real_batches_of_a_real_network(data) -> None:
    torch.manual_seed(0)
    model = Detector(BACKBONE, DetectorConfig(neck_width=8), 4, torch.tensor(data.anchors), 64)
    g = torch.Generator().manual_seed(0)
    for start in range(0, 48, 16):  # three batches of 16
        x, targets = flip(
            data.train.x[start : start + 16], data.train.targets[start : start + 16], g
        )
        outputs = model(x)
        (want, want_grads), (got, got_grads) = _both(
            outputs, targets, model.anchors, model.strides, "giou"
        )
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        for a, b in zip(got_grads, want_grads):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
