"""The detection pipeline end to end on a small generated COCO folder: split, anchors, flips,
decoding + NMS + COCOeval (ground truth as predictions scores AP = 1), a brief training."""

import math
from pathlib import Path

import pytest
import torch

from cspsearch.detection.data import flip
from cspsearch.detection.data import load_detection
from cspsearch.detection.loss import assign
from cspsearch.detection.task import detection_hooks
from cspsearch.detection.task import evaluate
from cspsearch.models.detector import Detector
from cspsearch.space.configs import DataConfig
from cspsearch.space.configs import DetectorConfig
from cspsearch.space.configs import TrainConfig
from cspsearch.training.loop import fit
from tests.models.test_necks import BACKBONE  # a tiny CSPDarkNet with stride-2 stages


@pytest.fixture(scope="module")
def data(shapes_json: Path):
    cfg = DataConfig(dataset="coco", path=str(shapes_json.parent), input_size=64)
    return load_detection(cfg)


def test_split_targets_and_anchors(data):
    sizes = [len(data.train.x), len(data.val.x), len(data.test.x)]
    assert sum(sizes) == 60 and sizes[1] == sizes[2] == 9
    assert data.num_classes == 4 and data.train.x.shape[1:] == (3, 64, 64)
    boxes = data.val.targets[data.val.targets[..., 0] >= 0]
    assert len(boxes) == len(data.val.truth["annotations"])
    areas = [w * h for w, h in data.anchors]
    assert len(areas) == 9 and areas == sorted(areas)


def test_flip_mirrors_images_and_their_boxes(data):
    x, targets = data.train.x[:8], data.train.targets[:8]
    g = torch.Generator().manual_seed(0)
    fx, ft = flip(x, targets, g)
    flipped = [i for i in range(8) if not torch.equal(fx[i], x[i])]
    assert 0 < len(flipped) < 8
    for i in range(8):
        real = targets[i, :, 0] >= 0
        if i in flipped:
            assert torch.allclose(ft[i, real, 1], 64 - targets[i, real, 3])
            assert torch.equal(fx[i], x[i].flip(-1))
        else:
            assert torch.equal(ft[i], targets[i])


class Oracle(torch.nn.Module):
    """Emits, for each image, the raw head outputs that decode to its ground-truth boxes."""

    def __init__(self, targets: torch.Tensor, anchors: list) -> None:
        super().__init__()
        self.targets, self.strides = targets, (4, 8, 16)
        self.anchors = torch.tensor(anchors).view(3, 3, 2)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        t = self.targets[: len(x)]
        out = [torch.full((len(x), 3, 64 // s, 64 // s, 9), -20.0) for s in self.strides]
        for b, box, level, k in zip(*assign(t, self.anchors)):
            s = self.strides[level]
            centre, size = (box[1:3] + box[3:5]) / 2 / s, box[3:5] - box[1:3]
            cell = centre.long()
            p = out[level][b, k, cell[1], cell[0]]
            p[:2] = torch.logit((centre - cell + 0.5) / 2)
            p[2:4] = torch.logit((size / self.anchors[level, k]).sqrt() / 2)
            p[4], p[5 + int(box[0])] = 20.0, 20.0
        return out


def test_ground_truth_as_predictions_scores_ap_one(data):
    scores = evaluate(Oracle(data.val.targets, data.anchors), data.val)
    assert scores["ap50"] == pytest.approx(1.0) and scores["ap"] == pytest.approx(1.0)


def test_brief_training_reports_coco_scores_per_epoch(data):
    torch.manual_seed(0)
    model = Detector(BACKBONE, DetectorConfig(neck_width=8), 4, torch.tensor(data.anchors), 64)
    seen = []
    result = fit(
        model,
        detection_hooks(model, data, "ciou"),
        TrainConfig(epochs=2, batch_size=16, precise_bn=32),
        lambda e, a: seen.append(a),
    )
    # The callback sees AP on the device each epoch; the last epoch's recorded figures are
    # pycocotools' (the same rule: equal but for rounding).
    assert len(result.val) == 2 and seen == pytest.approx(result.curve("ap50"), abs=1e-9)
    assert all(0 <= v <= 1 for v in [*result.curve("ap50"), *result.curve("ap")])
    assert all(math.isfinite(v) for v in result.train_loss)
    assert result.train_loss[1] < result.train_loss[0]
    assert set(result.test) >= {"ap", "ap50"}
    assert 0 < result.step_time_s < result.train_time_s  # recorded for detection too


def test_the_callback_can_stop_a_detector_early(data):
    torch.manual_seed(0)
    model = Detector(BACKBONE, DetectorConfig(neck_width=8), 4, torch.tensor(data.anchors), 64)
    hooks = detection_hooks(model, data, "giou")
    result = fit(model, hooks, TrainConfig(epochs=3, batch_size=16), lambda e, a: e == 0)
    assert len(result.val) == 1  # the old detection trainer ignored the callback's answer
