"""YOLOv3-style training loss: each ground-truth box is assigned to one anchor, on one level.

Assignment (YOLOv3, and the premise of EFM): the anchor whose size best matches the box (IoU of
widths/heights, centres aligned) picks the level and the anchor; the cell is the one holding the
box centre. Loss = box (1 − IoU variant) + objectness (BCE against the prediction's IoU with its
box, every cell) + class (BCE, assigned cells only). Everything stays on the device, vectorised.

Static shapes, no host sync: every slot of the padded targets (batch, max boxes; class −1 pads)
is carried through with a 0/1 weight instead of being selected (no ``nonzero``, boolean indexing
or ``len()``), so the same function runs eagerly on any device and inside a CUDA graph.
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
# What a padding slot is replaced by before any arithmetic (class 0, a 1-px box): its terms are
# weighted 0, and a finite stand-in keeps 0 · NaN out of the gradients.
_PAD_BOX = (0.0, 0.0, 0.0, 1.0, 1.0)


def assign_slots(
    targets: torch.Tensor, anchors: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(boxes, real, level, anchor) for every slot of ``targets`` (batch, max boxes, 5: class,
    x1, y1, x2, y2; class −1 pads), each (batch · max boxes[, 5]): padding slots hold a stand-in
    box and ``real`` False. ``anchors``: (levels, anchors, 2)."""
    flat_targets = targets.reshape(-1, 5)
    real = flat_targets[:, 0] >= 0
    pad = _constant(_PAD_BOX, targets.dtype, targets.device)
    boxes = torch.where(real[:, None], flat_targets, pad)
    wh = boxes[:, 3:5] - boxes[:, 1:3]
    flat = anchors.view(-1, 2)
    inter = torch.min(wh[:, None], flat[None]).prod(-1)
    iou = inter / (wh.prod(-1)[:, None] + flat.prod(-1)[None] - inter)
    best = iou.argmax(1)
    per_level = anchors.shape[1]
    return boxes, real, best // per_level, best % per_level


def assign(
    targets: torch.Tensor, anchors: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(image index, box, level, anchor) of every real box only (a host sync: for tests and
    tools; the loss uses ``assign_slots``)."""
    boxes, real, level, anchor = assign_slots(targets, anchors)
    image = torch.arange(targets.shape[0], device=targets.device).repeat_interleave(
        targets.shape[1]
    )
    return image[real], boxes[real], level[real], anchor[real]


def neighbour_cells(
    boxes: torch.Tensor, stride: torch.Tensor, size: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(cells, inside) of each box's centre cell plus the horizontal and vertical neighbours
    nearer its centre (YOLOv5): three positives per box instead of one, all on the box's level
    and anchor. ``stride`` and ``size`` (n, 1): each box's level's stride and map size. Cells
    (3 · n, 2): centre cells, then x sides, then y sides; ``inside`` False where a neighbour
    falls off the map (its cell is clamped onto it; its weight must be 0).
    NOTE: YOLOv3 uses the centre cell only; with ~3 positives among ~1,000 cells per image,
    training was too slow for a brief run (train-split AP50 0.18 after 12 epochs)."""
    centre = (boxes[:, 1:3] + boxes[:, 3:5]) / 2 / stride
    cell = torch.minimum(centre.long().clamp(min=0), size - 1)
    step = torch.where(centre - cell < 0.5, -1, 1)
    x_side = cell + torch.stack((step[:, 0], torch.zeros_like(step[:, 0])), 1)
    y_side = cell + torch.stack((torch.zeros_like(step[:, 1]), step[:, 1]), 1)
    cells = torch.cat((cell, x_side, y_side))
    size3 = size.repeat(3, 1)
    inside = ((cells >= 0) & (cells < size3)).all(1)
    return torch.minimum(cells.clamp(min=0), size3 - 1), inside


def detection_loss(
    outputs: list[torch.Tensor],
    targets: torch.Tensor,
    anchors: torch.Tensor,
    strides: tuple[int, ...],
    box_loss: str = "giou",
) -> torch.Tensor:
    """The weighted training loss of one batch (a scalar tensor; no host sync, static shapes).

    Every level's map is flattened into one (batch, Σ anchors · cells, 5 + classes) tensor and
    each slot indexes its own level's part: one gather, one decode, one IoU and one
    objectness BCE for all levels (fewer, larger operations than a loop over levels)."""
    boxes, real, level, anchor = assign_slots(targets, anchors)
    device = targets.device
    flat = torch.cat([raw.float().flatten(1, 3) for raw in outputs], 1)
    sizes = _constant(tuple(raw.shape[2] for raw in outputs), torch.long, device)
    counts = [raw.shape[1:4].numel() for raw in outputs]
    starts = _constant(tuple(sum(counts[:i]) for i in range(len(counts))), torch.long, device)
    size = sizes[level][:, None]
    stride = _constant(tuple(strides), flat.dtype, device)[level][:, None]
    cells, inside = neighbour_cells(boxes, stride, size)
    image = torch.arange(targets.shape[0], device=device).repeat_interleave(targets.shape[1])
    image, anchor, level3 = image.repeat(3), anchor.repeat(3), level.repeat(3)
    size3, boxes3 = size.repeat(3, 1)[:, 0], boxes.repeat(3, 1)
    index = starts[level3] + (anchor * size3 + cells[:, 1]) * size3 + cells[:, 0]
    weight = (real.repeat(3) & inside).to(flat.dtype)  # (3 · slots,)
    picked = flat[image, index]  # (3 · slots, 5 + classes)
    predicted = decode(picked, anchors[level3, anchor], stride.repeat(3, 1), cells)
    iou = aligned_iou(predicted, boxes3[:, 1:5], box_loss)
    box_terms = ((1 - iou) * weight).sum()
    # A cell named twice is one positive (as assignment by indexing was): count, then cap.
    hits = torch.zeros(flat.shape[0] * flat.shape[1], device=device, dtype=flat.dtype)
    hits = hits.scatter_add(0, image * flat.shape[1] + index, weight).view(flat.shape[:2])
    target_obj = hits.clamp(max=1.0)
    obj_terms = F.binary_cross_entropy_with_logits(flat[..., 4], target_obj, reduction="sum")
    # A comparison, not one_hot: one_hot may check its input's range on the host.
    labels = torch.arange(flat.shape[-1] - 5, device=device)
    classes = (boxes3[:, :1].long() == labels).to(flat.dtype)
    cls = F.binary_cross_entropy_with_logits(picked[:, 5:], classes, reduction="none")
    cls_terms = (cls.sum(1) * weight).sum()
    total = WEIGHTS["box"] * box_terms + WEIGHTS["obj"] * obj_terms + WEIGHTS["cls"] * cls_terms
    return total / real.sum().clamp(min=1)  # per box: the step size does not depend on the batch


_CONSTANTS: dict[tuple, torch.Tensor] = {}


def _constant(values: tuple, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A small constant tensor on ``device``, made once: a tensor built from host values is a
    host-to-device copy, which a CUDA graph capture does not allow (and which syncs)."""
    key = (values, dtype, str(device))
    if key not in _CONSTANTS:
        _CONSTANTS[key] = torch.tensor(values, dtype=dtype, device=device)
    return _CONSTANTS[key]
