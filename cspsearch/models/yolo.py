"""The csp_yolo family (docs/family.md): a YOLO backbone whose every stage picks its block —
the darknet CSP stage with ``fusion`` (csp) or ultralytics' C3, C2f, C3k2, ELAN1 or
RepNCSPELAN4 (yolo_blocks.py) — then an optional tail and a classification head
(yolo_parts.py).

Stem (one or two convolutions, ultralytics' layers 0-1) → stages → tail (inside the last
stage, so a detector's coarsest level is the tail's output, as in ultralytics) → head. A
stage with a yolo block is: a stride-2 down-sampling when its stride is 2 (``down``: a 3×3/2
conv or AConv, to ``out_chs`` with ``down_growth``, else keeping its input width) → the
block, input width → ``out_chs``. A csp stage is backbones.py's darknet stage (its own 3×3
down-convolution; ``down`` does not apply to it).
NOTE: BatchNorm uses eps 1e-3 and momentum 0.03, as ultralytics' DetectionModel sets them
(its ClassificationModel keeps PyTorch's defaults; parameter and MAC counts do not change).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from cspsearch.errors import BuildError
from cspsearch.models.backbones import plan_stage
from cspsearch.models.backbones import stage as csp_stage
from cspsearch.models.blocks import RESIDUAL_BLOCKS
from cspsearch.models.layers import ConvBnAct
from cspsearch.models.registry import register_family
from cspsearch.models.yolo_blocks import BlockSpec
from cspsearch.models.yolo_blocks import make_block
from cspsearch.models.yolo_parts import AConv
from cspsearch.models.yolo_parts import make_head
from cspsearch.models.yolo_parts import make_tail
from cspsearch.space.configs import ModelConfig


def yolo_stem(cfg: ModelConfig) -> nn.Sequential:
    """``stem_convs`` convolutions to stem_width (two: the first to half of it), the first
    ``stem_kernel`` wide (YOLOv5: 6×6, padding 2), the second 3×3; they take the stride
    ``stem_stride`` in steps of 2 in order (the last takes what is left), or leave the last 2
    to a 3×3/2 max-pool with ``stem_pool``.
    NOTE: padding (k − 1) // 2, as ultralytics gives the 6×6 conv explicitly (its autopad
    would be 3); the same as k // 2 for odd kernels."""
    widths = [cfg.stem_width // 2, cfg.stem_width][-cfg.stem_convs :]
    left = cfg.stem_stride // (2 if cfg.stem_pool else 1)
    layers: list[nn.Module] = []
    prev = cfg.in_chans
    for i, width in enumerate(widths):
        stride = left if i == len(widths) - 1 else min(left, 2)
        left //= stride
        k = cfg.stem_kernel if i == 0 else 3
        layers.append(
            ConvBnAct(prev, max(1, width), k, stride, act=cfg.activation, padding=(k - 1) // 2)
        )
        prev = max(1, width)
    if cfg.stem_pool:
        layers.append(nn.MaxPool2d(3, stride=2, padding=1))
    return nn.Sequential(*layers)


def block_spec(cfg: ModelConfig, i: int) -> BlockSpec:
    return BlockSpec(
        depth=cfg.depth[i],
        split_ratio=cfg.split_ratio[i],
        hidden_ratio=cfg.hidden_ratio[i],
        shortcut=cfg.shortcut[i],
        c3k=cfg.c3k[i],
        act=cfg.activation,
    )


def yolo_stage(cfg: ModelConfig, i: int, in_chs: int) -> tuple[OrderedDict, int]:
    """Stage ``i``'s parts (down, block or csp) and its output width."""
    if cfg.block[i] == "csp":
        w = plan_stage(cfg, i, in_chs)
        return OrderedDict(csp=csp_stage(cfg, i, in_chs, w, RESIDUAL_BLOCKS["dark"])), w.out
    out_chs, parts = cfg.out_chs[i], OrderedDict()
    if cfg.stride[i] > 1:
        down_chs = out_chs if cfg.down_growth[i] else in_chs
        if cfg.down == "aconv":
            parts["down"] = AConv(in_chs, down_chs, cfg.activation)
        else:
            parts["down"] = ConvBnAct(in_chs, down_chs, 3, 2, act=cfg.activation)
        in_chs = down_chs
    try:
        parts["block"] = make_block(cfg.block[i], in_chs, out_chs, block_spec(cfg, i))
    except BuildError as exc:
        raise BuildError(f"stage {i}: {exc}") from None
    return parts, out_chs


class YoloNet(nn.Module):
    """Stem → stages (the last one ends with the tail) → head. ``stem`` and ``stages`` are the
    backbone a detector takes (cspsearch/models/detector.py)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.stem = yolo_stem(cfg)
        stages, chs = [], max(1, cfg.stem_width)
        for i in range(cfg.num_stages):
            parts, chs = yolo_stage(cfg, i, chs)
            if i == cfg.num_stages - 1 and cfg.tail != "none":
                parts["tail"] = make_tail(cfg.tail, chs, cfg.tail_depth, cfg.activation)
            stages.append(nn.Sequential(parts))
        self.stages = nn.Sequential(*stages)
        self.head = make_head(cfg.head, chs, cfg.num_classes, cfg.activation)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps, m.momentum = 1e-3, 0.03

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


@register_family("csp_yolo")
def csp_yolo(cfg: ModelConfig) -> nn.Module:
    return YoloNet(cfg)
