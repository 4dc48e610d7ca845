"""The csp_yolo presets have ultralytics' structure, not only its counts: every convolution
with its BatchNorm and activation, every shortcut add and every concatenation's inputs in
order, in the order they run (structure.py), against ultralytics' own models recorded in
yolo_reference.json by make_yolo_reference.py in the reference venv. test_yolo_presets.py
checks their parameters and MACs, which see none of the adds and activations."""

from __future__ import annotations

import types
from dataclasses import replace

import pytest
import torch
from torch import nn

from cspsearch.models import build_model
from cspsearch.models.layers import ConvBnAct
from cspsearch.models.yolo_presets import YOLO_PRESETS
from tests.models.structure import assert_same_structure
from tests.models.structure import reference
from tests.models.structure import signature

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCE = reference()
SIZE = REFERENCE["input"][-1]
# NOTE: BatchNorm has eps 1e-3 and momentum 0.03 in every csp_yolo model (yolo.py), as
# ultralytics' DetectionModel sets them; its ClassificationModel keeps PyTorch's defaults, so
# the -cls presets differ there and nowhere else.
CLASSIFIER_BN = ("bn(eps 0.001 momentum 0.03)", "bn")


def ours(model: nn.Module, name: str) -> list[str]:
    """The structure lines of a preset's model as ultralytics' is recorded: the whole
    classifier, or the detector's backbone (stem and stages: its YAML's backbone layers)."""
    if YOLO_PRESETS[name][1] == 640:
        model = nn.Sequential(model.stem, model.stages)
    lines = signature(model, 3, SIZE)
    if name.endswith("-cls"):
        lines = [line.replace(*CLASSIFIER_BN) for line in lines]
    return lines


def test_every_preset_has_a_reference() -> None:
    assert set(REFERENCE["models"]) == set(YOLO_PRESETS)
    assert REFERENCE["ultralytics"].startswith("8.4")


@pytest.mark.parametrize("name", sorted(YOLO_PRESETS))  # < 1 s each
def test_a_preset_has_the_structure_of_ultralytics(name: str) -> None:
    lines = ours(build_model(YOLO_PRESETS[name][0]), name)
    assert_same_structure(lines, REFERENCE["models"][name])


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_what_the_counts_miss_the_structure_sees() -> None:
    """Three changes that keep every parameter and MAC: the bottlenecks' shortcut off, SPPF's
    first 1×1 linear (as cspsearch had it), a C3's concatenation in the other order."""
    cfg = YOLO_PRESETS["yolov8n"][0]
    preset = build_model(cfg)
    no_shortcut = build_model(replace(cfg, shortcut=False))
    assert _params(no_shortcut) == _params(preset)
    assert ours(no_shortcut, "yolov8n") != REFERENCE["models"]["yolov8n"]
    linear = build_model(cfg)
    sppf = linear.stages[-1].tail
    sppf.cv1 = ConvBnAct(sppf.cv1[0].in_channels, sppf.cv1[0].out_channels, 1, act=None)
    assert _params(linear) == _params(preset)
    assert ours(linear, "yolov8n") != REFERENCE["models"]["yolov8n"]
    swapped = build_model(YOLO_PRESETS["yolov5nu"][0])
    c3 = swapped.stages[0].block
    c3.forward = types.MethodType(
        lambda self, x: self.cv3(torch.cat((self.cv2(x), self.m(self.cv1(x))), dim=1)), c3
    )
    assert ours(swapped, "yolov5nu") != REFERENCE["models"]["yolov5nu"]
