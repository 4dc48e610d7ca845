"""A YOLOv3-style detector: CSP backbone (any family) → neck → one anchor head per level.

The backbone is a registered family's stem and stages (its classifier is dropped); its last
three stages are the pyramid, fine → coarse (a dense stage's level is its feature before its
closing pool), and must each halve the resolution. The head
predicts, per anchor and cell, (tx, ty, tw, th, objectness, class logits); decoding lives in
cspsearch/detection/boxes.py. Top-level parts are named backbone / neck / head so the MAC
count can be split by part.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cspsearch.errors import BuildError
from cspsearch.models.csp_stage import CSPStage
from cspsearch.models.layers import ConvBnAct
from cspsearch.models.necks import Neck
from cspsearch.models.registry import build_model
from cspsearch.space.configs import DetectorConfig
from cspsearch.space.configs import ModelConfig

LEVELS = 3  # pyramid levels, each with ANCHORS anchors (YOLOv3)
ANCHORS = 3


class Backbone(nn.Module):
    """A family's stem and stages; returns the outputs of the last ``LEVELS`` stages."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.num_stages < LEVELS:
            raise BuildError(
                f"a detector needs ≥ {LEVELS} stages, got num_stages {cfg.num_stages}"
            )
        net = build_model(cfg)
        self.stem, self.stages = net.stem, net.stages

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x, out = self.stem(x), []
        for stage in self.stages:
            # A dense stage ends with a pooling: its level is the feature just before it.
            feature, x = stage.forward_tap(x) if isinstance(stage, CSPStage) else (stage(x),) * 2
            out.append(feature)
        return out[-LEVELS:]


class Head(nn.Module):
    """3×3 conv → 1×1 prediction of ``ANCHORS × (5 + classes)`` values per cell."""

    def __init__(self, width: int, num_classes: int, stride: int, input_size: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.conv = ConvBnAct(width, width, 3, act="leaky_relu")
        self.pred = nn.Conv2d(width, ANCHORS * (5 + num_classes), 1)
        # Priors (YOLOv5): ~8 objects per image at this level, classes equally likely; without
        # them the first steps are spent pushing every cell's objectness down.
        bias = self.pred.bias.detach().view(ANCHORS, 5 + num_classes)
        bias[:, 4] = math.log(8 / (input_size / stride) ** 2)
        bias[:, 5:] = math.log(0.6 / max(num_classes - 0.99, 0.01))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pred(self.conv(x))
        b, _, h, w = p.shape  # → (batch, anchor, y, x, 5 + classes)
        return p.view(b, ANCHORS, 5 + self.num_classes, h, w).permute(0, 1, 3, 4, 2)


class Detector(nn.Module):
    """Backbone → neck → heads. ``anchors``: (9, 2) box sizes in pixels, sorted by area."""

    def __init__(
        self,
        model: ModelConfig,
        detector: DetectorConfig,
        num_classes: int,
        anchors: torch.Tensor,
        input_size: int,
    ) -> None:
        super().__init__()
        self.backbone = Backbone(model)
        in_chs, self.strides = probe(self.backbone, model.in_chans, input_size)
        self.neck = Neck(
            detector.neck,
            in_chs,
            detector.neck_width,
            detector.maxout_size if detector.maxout else 0,
            detector.spp,
            detector.attention,
        )
        self.head = nn.ModuleList(
            Head(detector.neck_width, num_classes, s, input_size) for s in self.strides
        )
        self.register_buffer(
            "anchors", torch.as_tensor(anchors, dtype=torch.float32).view(LEVELS, ANCHORS, 2)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [head(f) for head, f in zip(self.head, self.neck(self.backbone(x)))]


@torch.no_grad()
def probe(backbone: Backbone, in_chans: int, input_size: int) -> tuple[tuple[int, ...], tuple]:
    """Channels and strides of the pyramid levels, checked to halve level by level."""
    backbone.eval()  # no BatchNorm statistics are touched
    features = backbone(torch.zeros(1, in_chans, input_size, input_size))
    backbone.train()
    sizes = [f.shape[-1] for f in features]
    if any(input_size % size for size in sizes) or any(
        a != 2 * b for a, b in zip(sizes, sizes[1:])
    ):
        raise BuildError(
            f"the last {LEVELS} stages give feature maps of {sizes} px on a {input_size}-px "
            "input; a detector needs each to halve the one before (stride 2 per stage)"
        )
    return tuple(f.shape[1] for f in features), tuple(input_size // s for s in sizes)
