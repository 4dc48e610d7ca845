"""Box arithmetic on the device: IoU variants, decoding of head outputs, batched NMS.

Boxes are (x1, y1, x2, y2) in input pixels. A head output (batch, anchor, y, x, 5 + classes)
decodes as in YOLOv4/v5: centre = (2·σ(t) − 0.5 + cell) · stride, size = (2·σ(t))² · anchor,
so a prediction stays within its cell's neighbourhood and within 4× its anchor.
"""

from __future__ import annotations

import math

import torch

EPS = 1e-7


def decode(
    raw: torch.Tensor, anchors: torch.Tensor, stride: int, cells: torch.Tensor | None = None
) -> torch.Tensor:
    """Boxes (…, 4) from raw (…, ≥4) predictions at ``cells`` (…, 2) — default: every cell of
    a (batch, anchor, y, x, ·) map, with ``anchors`` (anchor, 2)."""
    if cells is None:
        h, w = raw.shape[2:4]
        ys, xs = torch.meshgrid(
            torch.arange(h, device=raw.device), torch.arange(w, device=raw.device), indexing="ij"
        )
        cells = torch.stack((xs, ys), -1).view(1, 1, h, w, 2)
        anchors = anchors.view(1, -1, 1, 1, 2)
    xy = (raw[..., :2].sigmoid() * 2 - 0.5 + cells) * stride
    wh = (raw[..., 2:4].sigmoid() * 2) ** 2 * anchors
    return torch.cat((xy - wh / 2, xy + wh / 2), -1)


def aligned_iou(a: torch.Tensor, b: torch.Tensor, kind: str = "iou") -> torch.Tensor:
    """IoU of box a[i] with b[i]; ``kind`` giou / diou / ciou adds that variant's penalty."""
    inter = (torch.min(a[:, 2:], b[:, 2:]) - torch.max(a[:, :2], b[:, :2])).clamp(0).prod(1)
    wa, ha = (a[:, 2] - a[:, 0]), (a[:, 3] - a[:, 1])
    wb, hb = (b[:, 2] - b[:, 0]), (b[:, 3] - b[:, 1])
    union = wa * ha + wb * hb - inter + EPS
    iou = inter / union
    if kind == "iou":
        return iou
    hull = torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])  # enclosing box size
    if kind == "giou":
        area = hull.prod(1) + EPS
        return iou - (area - union) / area
    diagonal = (hull**2).sum(1) + EPS
    centres = (((a[:, :2] + a[:, 2:]) - (b[:, :2] + b[:, 2:])) ** 2).sum(1) / 4
    if kind == "diou":
        return iou - centres / diagonal
    v = (4 / math.pi**2) * (torch.atan(wb / (hb + EPS)) - torch.atan(wa / (ha + EPS))) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + 1 + EPS)
    return iou - centres / diagonal - alpha * v  # ciou


def pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every box in a (…, n, 4) with every box in b (…, m, 4) → (…, n, m).

    Coordinate by coordinate, in place on (…, n, m) maps: the same operations, in the same
    order, as over (…, n, m, 2) corner pairs with a product over the last axis, so the same
    bits (tested), at a quarter of the time (NMS of 225 images × 100 boxes: 65 → 15 ms)."""
    ax1, ay1, ax2, ay2 = (c[..., :, None] for c in a.unbind(-1))
    bx1, by1, bx2, by2 = (c[..., None, :] for c in b.unbind(-1))
    inter = torch.min(ax2, bx2).sub_(torch.max(ax1, bx1)).clamp_(0)
    inter.mul_(torch.min(ay2, by2).sub_(torch.max(ay1, by1)).clamp_(0))
    union = ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1)).sub_(inter).add_(EPS)
    return inter.div_(union)


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Greedy per-class NMS of every image at once. Inputs (batch, k, ·) sorted by score,
    descending; returns the kept mask (batch, k). Exact greedy NMS: box i is dropped when a
    kept, higher-scoring box of its class overlaps it by more than ``iou_threshold``."""
    offset = labels[..., None].to(boxes.dtype) * (boxes.amax() + 1)  # classes never overlap
    iou = pairwise_iou(boxes + offset, boxes + offset)
    over = iou > iou_threshold
    keep = scores > 0
    for i in range(boxes.shape[1] - 1):  # k steps for the whole batch, not per image
        keep[:, i + 1 :] &= ~(over[:, i, i + 1 :] & keep[:, i : i + 1])
    return keep


@torch.no_grad()
def detect(
    outputs: list[torch.Tensor],
    anchors: torch.Tensor,
    strides: tuple[int, ...],
    top_k: int = 100,
    iou_threshold: float = 0.6,
    min_score: float = 0.001,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(boxes, scores, labels, keep) of shape (batch, top_k[, 4]) from the heads' outputs:
    score = σ(objectness) · σ(class) for every (box, class) pair (multi-label, as YOLOv5's
    COCO evaluation: a box unsure between two classes is listed under both), the ``top_k``
    best pairs per image, then per-class NMS."""
    boxes, scores = [], []
    for raw, level_anchors, stride in zip(outputs, anchors, strides):
        b = raw.shape[0]
        boxes.append(decode(raw.float(), level_anchors, stride).reshape(b, -1, 4))
        scores.append(
            (raw[..., 4:5].float().sigmoid() * raw[..., 5:].float().sigmoid()).reshape(
                b, -1, raw.shape[-1] - 5
            )
        )
    pairs = torch.cat(scores, 1)
    classes = pairs.shape[-1]
    pairs = pairs.flatten(1)  # (batch, boxes · classes)
    top, order = pairs.topk(min(top_k, pairs.shape[1]), dim=1)  # sorted, descending
    boxes = torch.cat(boxes, 1).gather(1, (order // classes)[..., None].expand(-1, -1, 4))
    labels = order % classes
    keep = batched_nms(boxes, top, labels, iou_threshold) & (top > min_score)
    return boxes, top, labels, keep
