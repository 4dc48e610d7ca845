"""Box arithmetic: IoU variants, decoding, batched NMS, anchor assignment, the loss."""

import math

import pytest
import torch

from cspsearch.detection.boxes import EPS
from cspsearch.detection.boxes import aligned_iou
from cspsearch.detection.boxes import batched_nms
from cspsearch.detection.boxes import decode
from cspsearch.detection.boxes import pairwise_iou
from cspsearch.detection.loss import assign
from cspsearch.detection.loss import detection_loss

A = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
B = torch.tensor([[5.0, 0.0, 15.0, 10.0]])  # half overlapping: IoU = 50 / 150


def test_iou_variants_on_known_boxes():
    assert aligned_iou(A, B).item() == pytest.approx(1 / 3, abs=1e-5)
    # GIoU: the hull is 15 × 10 = 150 = the union, so no penalty.
    assert aligned_iou(A, B, "giou").item() == pytest.approx(1 / 3, abs=1e-5)
    far = torch.tensor([[20.0, 0.0, 30.0, 10.0]])
    assert aligned_iou(A, far, "giou").item() == pytest.approx(0 - (300 - 200) / 300, abs=1e-5)
    # DIoU: centre distance² 25, hull diagonal² 15² + 10² = 325.
    assert aligned_iou(A, B, "diou").item() == pytest.approx(1 / 3 - 25 / 325, abs=1e-5)
    # CIoU of two boxes with the same aspect ratio equals DIoU.
    assert aligned_iou(A, B, "ciou").item() == pytest.approx(1 / 3 - 25 / 325, abs=1e-5)
    for kind in ("iou", "giou", "diou", "ciou"):
        assert aligned_iou(A, A, kind).item() == pytest.approx(1.0, abs=1e-5)


def test_pairwise_iou_matches_aligned():
    boxes = torch.tensor([[0.0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 40]])
    matrix = pairwise_iou(boxes, boxes)
    for i in range(3):
        for j in range(3):
            assert matrix[i, j].item() == pytest.approx(
                aligned_iou(boxes[i : i + 1], boxes[j : j + 1]).item(), abs=1e-5
            )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pairwise_iou_has_the_bits_of_the_corner_pair_formula(dtype):
    # The per-coordinate, in-place pairwise_iou must give what the plain (…, n, m, 2) formula
    # gives, to the bit (NMS decisions at the threshold, and so a study's AP, must not move):
    # random, duplicate, zero-width and disjoint boxes, batched and not.
    def corner_pairs(a, b):
        lt = torch.max(a[..., :, None, :2], b[..., None, :, :2])
        rb = torch.min(a[..., :, None, 2:], b[..., None, :, 2:])
        inter = (rb - lt).clamp(0).prod(-1)
        area_a = (a[..., 2:] - a[..., :2]).prod(-1)
        area_b = (b[..., 2:] - b[..., :2]).prod(-1)
        return inter / (area_a[..., :, None] + area_b[..., None, :] - inter + EPS)

    generator = torch.Generator().manual_seed(0)
    corner = torch.rand(6, 40, 2, generator=generator, dtype=dtype) * 64
    boxes = torch.cat((corner, corner + torch.rand(6, 40, 2, generator=generator) * 30), -1)
    boxes[0, :5] = boxes[0, 5:10]  # duplicates: IoU 1
    boxes[1, :, 2] = boxes[1, :, 0]  # zero width
    boxes[2] += 500  # far from every box of the other set
    others = torch.rand(6, 7, 4, generator=generator, dtype=dtype).sort(-1).values * 64
    for a, b in ((boxes, boxes), (boxes, others), (boxes[3], others[3])):
        assert torch.equal(pairwise_iou(a, b), corner_pairs(a, b))


def test_decode_puts_a_zero_prediction_at_the_cell_centre_with_the_anchor_size():
    raw = torch.zeros(1, 1, 2, 2, 6)
    boxes = decode(raw, torch.tensor([[8.0, 4.0]]), stride=16)
    # σ(0) = 0.5 → centre (2·0.5 − 0.5 + cell) · 16 = cell·16 + 8; size (2·0.5)² · anchor.
    assert boxes[0, 0, 1, 0].tolist() == [8 - 4, 24 - 2, 8 + 4, 24 + 2]


def reference_nms(boxes, scores, labels, threshold):
    keep = []
    for i in range(len(boxes)):
        if all(
            labels[i] != labels[j] or pairwise_iou(boxes[i : i + 1], boxes[j : j + 1]) <= threshold
            for j in keep
        ):
            keep.append(i)
    return keep


def test_batched_nms_equals_greedy_nms_per_image_and_class():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(3, 40, 2, generator=g) * 10  # crowded, so some boxes overlap
    boxes = torch.cat((xy, xy + 5 + torch.rand(3, 40, 2, generator=g) * 20), -1)
    scores = torch.rand(3, 40, generator=g).sort(1, descending=True).values
    labels = torch.randint(0, 3, (3, 40), generator=g)
    keep = batched_nms(boxes, scores, labels, 0.5)
    for b in range(3):
        expected = reference_nms(boxes[b], scores[b], labels[b], 0.5)
        assert keep[b].nonzero().flatten().tolist() == expected
        assert len(expected) < 40  # something was suppressed


ANCHORS = torch.tensor(
    [[[4.0, 4.0], [6, 6], [8, 8]], [[12, 12], [16, 16], [20, 20]], [[28, 28], [36, 36], [44, 44]]]
)


def test_each_box_goes_to_the_anchor_of_the_closest_size():
    targets = torch.full((2, 2, 5), -1.0)
    targets[0, 0] = torch.tensor([1, 0, 0, 6, 6])  # 6 × 6 → level 0, anchor 1
    targets[1, 1] = torch.tensor([0, 10, 10, 50, 50])  # 40 × 40 → level 2, anchor 1 or 2
    image, boxes, level, anchor = assign(targets, ANCHORS)
    assert image.tolist() == [0, 1]
    assert level.tolist() == [0, 2]
    assert anchor.tolist()[0] == 1
    assert boxes[1, 0].item() == 0


def test_loss_falls_when_the_prediction_matches_the_box():
    targets = torch.full((1, 1, 5), -1.0)
    targets[0, 0] = torch.tensor([0, 8, 8, 14, 14])  # 6 × 6 centred at (11, 11): level 0
    strides = (4, 8, 16)
    outputs = [torch.zeros(1, 3, s, s, 7) for s in (16, 8, 4)]
    base = detection_loss(outputs, targets, ANCHORS, strides).item()
    good = [o.clone() for o in outputs]
    # anchor 1 (6 × 6) at cell (2, 2): centre 11 = (2σ(t) − 0.5 + 2)·4 → σ(t) = 0.625
    t = math.log(0.625 / 0.375)
    good[0][0, 1, 2, 2, :2] = t
    good[0][0, 1, 2, 2, 4] = 5.0  # objectness
    good[0][0, 1, 2, 2, 5] = 5.0  # class 0
    good[0][0, 1, 2, 2, 6] = -5.0
    assert detection_loss(good, targets, ANCHORS, strides).item() < base
    assert math.isfinite(base)
