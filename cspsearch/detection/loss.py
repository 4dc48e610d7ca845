"""YOLOv3-style training loss: each ground-truth box is assigned to one anchor, on one level.

Assignment (YOLOv3, and the premise of EFM): the anchor whose size best matches the box (IoU of
widths/heights, centres aligned) picks the level and the anchor; the cell is the one holding the
box centre. Loss = box (1 − IoU variant) + objectness (BCE against the prediction's IoU with its
box, every cell) + class (BCE, assigned cells only). Everything stays on the device, vectorised.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cspsearch.detection.boxes import aligned_iou
from cspsearch.detection.boxes import decode

# Every term is summed and divided by the number of boxes (as FCOS/YOLOX normalise): with a
# mean over all cells instead (YOLOv5), the ~3 positive cells among ~1,000 per image barely
# move the objectness in a brief run — measured here, σ(objectness) at positives fell to 0.04.
WEIGHTS = {"box": 5.0, "obj": 1.0, "cls": 2.0}


def assign(
    targets: torch.Tensor, anchors: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image index, box, level, anchor) of every real box in ``targets`` (batch, max boxes, 5:
    class, x1, y1, x2, y2; class −1 pads). ``anchors``: (levels, anchors, 2)."""
    image, slot = (targets[..., 0] >= 0).nonzero(as_tuple=True)
    boxes = targets[image, slot]
    wh = boxes[:, 3:5] - boxes[:, 1:3]
    flat = anchors.view(-1, 2)
    inter = torch.min(wh[:, None], flat[None]).prod(-1)
    iou = inter / (wh.prod(-1)[:, None] + flat.prod(-1)[None] - inter)
    best = iou.argmax(1)
    per_level = anchors.shape[1]
    return image, boxes, best // per_level, best % per_level


def neighbour_cells(
    image: torch.Tensor, anchor: torch.Tensor, boxes: torch.Tensor, stride: int, size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each box's centre cell plus the horizontal and vertical neighbours nearer its centre
    (YOLOv5): three positives per box instead of one, all on the box's level and anchor.
    NOTE: YOLOv3 uses the centre cell only; with ~3 positives among ~1,000 cells per image,
    training was too slow for a brief run (train-split AP50 0.18 after 12 epochs)."""
    centre = (boxes[:, 1:3] + boxes[:, 3:5]) / 2 / stride
    cell = centre.long().clamp(0, size - 1)
    step = torch.where(centre - cell < 0.5, -1, 1)
    x_side = cell + torch.stack((step[:, 0], torch.zeros_like(step[:, 0])), 1)
    y_side = cell + torch.stack((torch.zeros_like(step[:, 1]), step[:, 1]), 1)
    cells = torch.cat((cell, x_side, y_side))
    inside = ((cells >= 0) & (cells < size)).all(1)

    def repeat(t: torch.Tensor) -> torch.Tensor:
        return t.repeat(3, *([1] * (t.dim() - 1)))[inside]

    return repeat(image), repeat(anchor), repeat(boxes), cells[inside]


def detection_loss(
    outputs: list[torch.Tensor],
    targets: torch.Tensor,
    anchors: torch.Tensor,
    strides: tuple[int, ...],
    box_loss: str = "giou",
) -> torch.Tensor:
    """The weighted training loss of one batch (a scalar tensor; no host sync)."""
    image, boxes, level, anchor = assign(targets, anchors)
    device = outputs[0].device
    box_terms = torch.zeros((), device=device)
    obj_terms = torch.zeros((), device=device)
    cls_terms = torch.zeros((), device=device)
    for s, (raw, stride) in enumerate(zip(outputs, strides)):
        raw = raw.float()
        target_obj = torch.zeros(raw.shape[:4], device=device)
        on = level == s
        b, a, box = image[on], anchor[on], boxes[on]
        b, a, box, cells = neighbour_cells(b, a, box, stride, raw.shape[2])
        picked = raw[b, a, cells[:, 1], cells[:, 0]]  # (n, 5 + classes)
        if len(picked):
            predicted = decode(picked, anchors[s][a], stride, cells)
            iou = aligned_iou(predicted, box[:, 1:5], box_loss)
            box_terms = box_terms + (1 - iou).sum()
            target_obj[b, a, cells[:, 1], cells[:, 0]] = 1.0
            classes = F.one_hot(box[:, 0].long(), raw.shape[-1] - 5).to(raw.dtype)
            cls_terms = cls_terms + F.binary_cross_entropy_with_logits(
                picked[:, 5:], classes, reduction="sum"
            )
        obj_terms = obj_terms + F.binary_cross_entropy_with_logits(
            raw[..., 4], target_obj, reduction="sum"
        )
    total = WEIGHTS["box"] * box_terms + WEIGHTS["obj"] * obj_terms + WEIGHTS["cls"] * cls_terms
    return total / max(1, len(boxes))  # per box: the step size does not depend on the batch
