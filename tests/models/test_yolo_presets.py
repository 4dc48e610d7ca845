"""The csp_yolo presets against ultralytics' own models, to the parameter."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cspsearch.cli import app
from cspsearch.measure.macs import count_macs
from cspsearch.models import build_model
from cspsearch.models.yolo_presets import DETECTION_BACKBONES
from cspsearch.models.yolo_presets import YOLO_PRESETS

# Measured with ultralytics 8.4.190 in the reference venv (../shared/tools/reference-venv.sh,
# YOLO_OFFLINE=1): ClassificationModel(f"{name}.yaml", nc=1000) for the -cls models, whose
# parameters are PyTorch's count of the whole model and whose MACs are fvcore's
# FlopCountAnalysis(model.model, zeros(1, 3, 224, 224)).total() in eval mode; for the detectors
# DetectionModel(f"{name}.yaml", nc=80) and nn.Sequential(*model.model[: last + 1]) of its
# backbone section (last = 9, yolo11: 10), whose parameters are the backbone_params and whose
# fvcore MACs at 1 × 3 × 640 × 640 are the backbone MACs.
CLASSIFIERS = {  # name → (parameters, MACs at 224)
    "yolov8n-cls": (2_719_288, 204_831_488),
    "yolov8s-cls": (6_361_736, 767_856_384),
    "yolo11n-cls": (2_812_104, 198_412_096),
    "yolo11s-cls": (6_724_008, 740_566_912),
}
BACKBONES = {  # name → (backbone parameters, backbone MACs at 640)
    "yolov5nu": (1_046_368, 1_400_320_000),
    "yolov8n": (1_272_656, 1_594_880_000),
    "yolov8s": (5_079_712, 6_256_844_800),
    "yolo11n": (1_365_472, 1_569_433_600),
    "yolo11s": (5_441_984, 6_087_987_200),
    "yolov9t": (708_720, 1_391_155_200),
}


def test_every_yolo_preset_has_a_reference() -> None:
    assert set(YOLO_PRESETS) == set(CLASSIFIERS) | set(BACKBONES)
    assert set(DETECTION_BACKBONES) == set(BACKBONES)


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_parameters_equal_ultralytics(name: str) -> None:
    cfg, size = YOLO_PRESETS[name]
    assert size == 224 and cfg.num_classes == 1000 and cfg.head == "classify"
    assert sum(p.numel() for p in build_model(cfg).parameters()) == CLASSIFIERS[name][0]


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_backbone_parameters_equal_ultralytics(name: str) -> None:
    cfg, size = YOLO_PRESETS[name]
    model = build_model(cfg)
    backbone = [*model.stem.parameters(), *model.stages.parameters()]
    assert size == 640 and sum(p.numel() for p in backbone) == BACKBONES[name][0]


@pytest.mark.parametrize("name", sorted(YOLO_PRESETS))  # < 1 s each
def test_macs_within_one_percent_of_ultralytics(name: str) -> None:
    cfg, size = YOLO_PRESETS[name]
    report = count_macs(build_model(cfg), size, 3)
    if name in CLASSIFIERS:
        ours, theirs = report.macs, CLASSIFIERS[name][1]
    else:
        ours, theirs = report.macs - report.by_stage["head"], BACKBONES[name][1]
    # Measured equal; the target is 1%.
    assert abs(ours / theirs - 1) < 0.01


def test_model_show_reports_the_backbone() -> None:
    args = ["model", "show", "yolov9t", "--json", "--no-latency", "--input-size", "64"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["family"] == "csp_yolo" and shown["backbone_params"] == 708_720
    assert shown["params"] == 708_720 + 128 * 1000 + 1000  # + the pool → linear head
    assert 0 < shown["backbone_macs"] < shown["macs"]


def test_model_list_shows_the_family_and_blocks() -> None:
    result = CliRunner().invoke(app, ["model", "list"])
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "csp_yolo" in rows["yolo11n-cls"] and "block c3k2" in rows["yolo11n-cls"]
    assert "block elan/gelan" in rows["yolov9t"] and "640×640" in rows["yolov9t"]


def test_an_unknown_preset_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(app, ["model", "show", "yolov8x-cls", "--no-latency"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "unknown space 'yolov8x-cls'" in result.stderr and "yolov8n-cls" in result.stderr
