"""ultralytics' YOLO models as csp_yolo ModelConfigs, equal to theirs to the parameter
(docs/family.md; no torch here): the classifiers yolov8n/s-cls and yolo11n/s-cls (224×224,
their Classify head) and the backbones of the detectors yolov5nu, yolov8n/s, yolo11n/s and
yolov9t (the YAML's ``backbone:`` section, at 640×640 as ultralytics counts detectors).

A detector's backbone gets a pool → linear head to 1000 classes so that it trains as a
classifier; ``backbone_params`` (stem and stages) is the sum over ultralytics' backbone layers.
The sizes come from the YAMLs' ``scales:`` as ultralytics' parse_model applies them: widths
``ceil(min(c, max_channels) · width / 8) · 8``, repeats ``max(round(n · depth), 1)`` when
n > 1. Layers 0-1 (two 3×3/2 convolutions; YOLOv5: 6×6/2 first) are the stem, each
down-sampling conv and the block after it a stage, SPPF / C2PSA / SPPELAN the tail.
"""

from __future__ import annotations

import math
from typing import Any

from cspsearch.space.configs import ModelConfig

IMAGENET = dict(in_chans=3, num_classes=1000)
CLASSIFY = dict(tail="none", head="classify")  # the -cls YAMLs: no SPPF, the Classify head


def scale_width(chs: int, width: float, max_chs: int = 1024) -> int:
    """ultralytics' channel scaling (make_divisible to 8, rounding up)."""
    return math.ceil(min(chs, max_chs) * width / 8) * 8


def scale_depth(n: int, depth: float) -> int:
    """ultralytics' repeat scaling."""
    return max(round(n * depth), 1) if n > 1 else n


def _yolo(
    out_chs: tuple[int, ...], depths: tuple[int, ...], depth: float, width: float, **fields: Any
) -> ModelConfig:
    """A four-stage ultralytics backbone: stem convs to 64 and 128 (scaled), stage 0 at
    stride 4 without a down-sampling of its own, stages 1-3 each down-sampling by 2."""
    base: dict[str, Any] = dict(
        family="csp_yolo",
        num_stages=4,
        stem_width=scale_width(128, width),
        stem_convs=2,
        stem_kernel=3,
        stem_stride=4,
        activation="silu",
        out_chs=tuple(scale_width(c, width) for c in out_chs),
        depth=tuple(scale_depth(n, depth) for n in depths),
        stride=(1, 2, 2, 2),
        down_growth=True,
        **IMAGENET,
    )
    return ModelConfig(**{**base, **fields})


def yolov5(depth: float, width: float, **fields: Any) -> ModelConfig:
    """yolov5.yaml (the 'u' models): 6×6/2 stem conv, C3 blocks, SPPF."""
    return _yolo(
        (128, 256, 512, 1024), (3, 6, 9, 3), depth, width, block="c3", stem_kernel=6, **fields
    )


def yolov8(depth: float, width: float, **fields: Any) -> ModelConfig:
    """yolov8.yaml / yolov8-cls.yaml: C2f blocks with shortcuts."""
    return _yolo((128, 256, 512, 1024), (3, 6, 6, 3), depth, width, block="c2f", **fields)


def yolo11(depth: float, width: float, **fields: Any) -> ModelConfig:
    """yolo11.yaml / yolo11-cls.yaml: C3k2 blocks (e 0.25 and plain bottlenecks in stages 0-1,
    C3k units in 2-3); the down-sampling convs keep the input width but the last; C2PSA."""
    return _yolo(
        (256, 512, 512, 1024),
        (2, 2, 2, 2),
        depth,
        width,
        block="c3k2",
        hidden_ratio=(0.25, 0.25, 0.5, 0.5),
        c3k=(False, False, True, True),
        down_growth=(False, False, False, True),
        tail_depth=scale_depth(2, depth),
        **fields,
    )


def yolov9t() -> ModelConfig:
    """yolov9t.yaml (no scales): ELAN1 at stride 4, then AConv + RepNCSPELAN4 (n = 3) three
    times, SPPELAN. ELAN1 [32, 32, 16] and RepNCSPELAN4 [c, c, c/2, 3] are hidden_ratio 0.5."""
    return ModelConfig(
        family="csp_yolo",
        num_stages=4,
        stem_width=32,
        stem_convs=2,
        stem_kernel=3,
        stem_stride=4,
        activation="silu",
        block=("elan", "gelan", "gelan", "gelan"),
        out_chs=(32, 64, 96, 128),
        depth=(2, 3, 3, 3),
        stride=(1, 2, 2, 2),
        down="aconv",
        down_growth=True,
        tail="sppelan",
        **IMAGENET,
    )


# name → (config, input size). ultralytics' scales: n = (depth 0.33, width 0.25), s = (0.33,
# 0.5) for v5/v8; n = (0.5, 0.25), s = (0.5, 0.5) for 11; max_channels 1024 in all of these.
YOLO_PRESETS: dict[str, tuple[ModelConfig, int]] = {
    "yolov8n-cls": (yolov8(0.33, 0.25, **CLASSIFY), 224),
    "yolov8s-cls": (yolov8(0.33, 0.50, **CLASSIFY), 224),
    "yolo11n-cls": (yolo11(0.50, 0.25, tail="c2psa", head="classify"), 224),
    "yolo11s-cls": (yolo11(0.50, 0.50, tail="c2psa", head="classify"), 224),
    "yolov5nu": (yolov5(0.33, 0.25, tail="sppf"), 640),
    "yolov8n": (yolov8(0.33, 0.25, tail="sppf"), 640),
    "yolov8s": (yolov8(0.33, 0.50, tail="sppf"), 640),
    "yolo11n": (yolo11(0.50, 0.25, tail="sppf_c2psa"), 640),
    "yolo11s": (yolo11(0.50, 0.50, tail="sppf_c2psa"), 640),
    "yolov9t": (yolov9t(), 640),
}
# The detectors' backbones (``model show`` reports their backbone_params).
DETECTION_BACKBONES = ("yolov5nu", "yolov8n", "yolov8s", "yolo11n", "yolo11s", "yolov9t")
