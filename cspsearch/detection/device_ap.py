"""COCO box AP and AP50 computed on the device, vectorised: the per-epoch validation score.

The same rule as pycocotools' COCOeval (bbox, area range ``all``, ``maxDets`` 100): per image
and class, detections taken by score (ties in their listed order) are matched greedily to the
unmatched ground-truth box of highest IoU ≥ the threshold (ties: the later box, as COCOeval's
loop); per class, detections of every image are ranked by score, precision is made monotone
from the right and read at the 101 recall thresholds; classes without ground truth are left out.
Crowd boxes do not arise (cspsearch/detection/coco.py skips them). The score comes back as
device tensors: reading it costs one sync per evaluation, not one per image or detection.
pycocotools (evaluate.py) stays the reference: it scores the final validation and the test.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# COCOeval's thresholds, built as numpy builds them (torch.linspace rounds differently in the
# last bit, and a recall of exactly k/n must fall on the same side of a threshold).
IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1)
_SPACING = float(np.spacing(1))  # COCOeval's guard against 0 / 0 in precision


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU (…, n, m) of boxes a (…, n, 4) and b (…, m, 4), x1 y1 x2 y2, as COCO's maskApi
    computes it (no epsilon; 0 where the union is empty)."""
    lt = torch.max(a[..., :, None, :2], b[..., None, :, :2])
    rb = torch.min(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).prod(-1)
    union = area_a[..., :, None] + area_b[..., None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-300), torch.zeros_like(inter))


def match(
    iou: torch.Tensor, same: torch.Tensor, valid: torch.Tensor, thresholds: torch.Tensor
) -> torch.Tensor:
    """True positives (T, N, K): detection k of image n (in score order) matched at threshold
    t. ``iou`` (N, K, M) with ground truth, ``same`` (N, K, M) same class and a real box,
    ``valid`` (N, K) detections that count. K steps for every image and threshold at once."""
    steps = iou.shape[1]
    m = iou.shape[2]
    matched = torch.zeros((len(thresholds), iou.shape[0], m), dtype=torch.bool, device=iou.device)
    tp = torch.zeros((len(thresholds), iou.shape[0], steps), dtype=torch.bool, device=iou.device)
    limit = thresholds.clamp(max=1 - 1e-10)[:, None, None]
    for k in range(steps):
        row = torch.where(same[:, k] & valid[:, k, None], iou[:, k], -1.0)  # (N, M)
        free = (row[None] >= limit) & ~matched  # (T, N, M)
        value = torch.where(free, row[None], -1.0)
        last = m - 1 - value.flip(-1).argmax(-1)  # the later of equal best boxes
        hit = free.any(-1)
        matched |= (F.one_hot(last, m) > 0) & hit[..., None]
        tp[:, :, k] = hit
    return tp


def device_ap(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    keep: torch.Tensor,
    targets: torch.Tensor,
    num_classes: int,
    max_dets: int = 100,
) -> dict[str, torch.Tensor]:
    """``ap`` (IoU 0.5:0.95) and ``ap50`` (0-dim tensors on the device; NaN without any
    ground-truth box) of detections (N, K[, 4]; each image's sorted by score, descending, as
    ``detect`` returns them; ``keep`` marks the real ones) against padded ``targets`` (N, M, 5:
    class, x1, y1, x2, y2; class −1 pads)."""
    device = boxes.device
    f64 = torch.float64
    valid = keep.clone()
    per_class = F.one_hot(labels, num_classes) * valid[..., None]
    valid &= (per_class.cumsum(1) <= max_dets).gather(-1, labels[..., None])[..., 0]
    real = targets[..., 0] >= 0
    same = (labels[:, :, None] == targets[:, None, :, 0].long()) & real[:, None, :]
    iou = box_iou(boxes.to(f64), targets[..., 1:].to(f64))
    thresholds = torch.from_numpy(IOU_THRESHOLDS).to(device)
    tp = match(iou, same, valid, thresholds)  # (T, N, K)
    # Rank every counted detection by score; a stable sort keeps COCOeval's order of ties
    # (image by image, then as listed).
    ranked = torch.where(valid, scores.to(f64), -torch.inf).flatten()
    order = torch.sort(ranked, descending=True, stable=True).indices
    counted = valid.flatten()[order]
    cls = (F.one_hot(labels.flatten()[order], num_classes) > 0) & counted[:, None]  # (D, C)
    tp = tp.flatten(1)[:, order, None]  # (T, D, 1)
    tp_sum = (tp & cls).to(f64).cumsum(1)  # (T, D, C)
    fp_sum = (~tp & cls).to(f64).cumsum(1)
    truths = (F.one_hot(targets[..., 0].long().clamp(min=0), num_classes) > 0) & real[..., None]
    npig = truths.flatten(0, 1).sum(0).to(f64)  # (C,) ground-truth boxes per class
    q = _interpolated(tp_sum, fp_sum, cls, npig)  # (T, C, R)
    ap = q.mean(-1)  # (T, C)
    has_truth = npig > 0
    per_threshold = torch.where(has_truth, ap, 0.0).sum(-1) / has_truth.sum()  # NaN: no truth
    return {"ap": per_threshold.mean(), "ap50": per_threshold[0]}


def _interpolated(
    tp_sum: torch.Tensor, fp_sum: torch.Tensor, cls: torch.Tensor, npig: torch.Tensor
) -> torch.Tensor:
    """Precision (T, C, R) at each recall threshold, made monotone from the right, from the
    cumulative true and false positives (T, D, C) over every detection ranked by score."""
    steps = tp_sum.shape[1]
    if steps == 0:  # no detection at all: precision 0 everywhere (COCOeval's IndexError path)
        return tp_sum.new_zeros((tp_sum.shape[0], tp_sum.shape[2], len(RECALL_THRESHOLDS)))
    recall = tp_sum / npig.clamp(min=1)
    precision = torch.where(cls, tp_sum / (tp_sum + fp_sum + _SPACING), 0.0)
    # The best precision at this rank or later within the class (other classes' ranks hold 0):
    # at the first rank whose recall reaches a threshold that is COCOeval's interpolated value.
    envelope = precision.flip(1).cummax(1).values.flip(1).permute(0, 2, 1)
    seq = recall.permute(0, 2, 1).contiguous()  # (T, C, D), non-decreasing along D
    at = torch.from_numpy(RECALL_THRESHOLDS).to(seq.device).expand(*seq.shape[:2], -1)
    idx = torch.searchsorted(seq, at.contiguous(), side="left")
    gathered = envelope.gather(-1, idx.clamp(max=steps - 1))
    return torch.where(idx < steps, gathered, 0.0)
