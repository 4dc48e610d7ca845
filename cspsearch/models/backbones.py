"""CSPResNet, CSPResNeXt and CSPDarkNet (CSPNet §3-4; structure as timm's cspnet.py).

Stem → stages → global average pool → linear. A CSP stage is: a 3×3 down-convolution when its
stride is 2 → a 1×1 expansion to ``out_chs · expand_ratio`` → split by γ → residual blocks on
part 2 → fusion (``full`` is timm's CrossStage, ``first`` its CrossStage3 of the cs3 models;
``last`` concatenates part 2's transition and the bypass and stops there, so that stage's
output is the expanded width and the next stage takes it; the next stage's down-convolution
and expansion mix every channel before its split, so its bypass is fresh). In csp_stage.py's
terms these families have θ = 1 and a part 2 transition as wide as part 2.
Fusion ``none`` is the plain stage (timm's DarkStage): the down-convolution, then the blocks at
``out_chs``.
NOTE: the blocks keep part 2's width. timm sets it to ``out_chs · block_ratio``, which equals
part 2's width (half the expansion) in every reference config; keeping it lets γ move freely.
"""

from __future__ import annotations

from torch import nn

from cspsearch.errors import BuildError
from cspsearch.models.blocks import RESIDUAL_BLOCKS
from cspsearch.models.csp_stage import CSPStage
from cspsearch.models.csp_stage import StageWidths
from cspsearch.models.csp_stage import stage_widths
from cspsearch.models.layers import ConvBnAct
from cspsearch.models.registry import register_family
from cspsearch.space.configs import ModelConfig


def plan(cfg: ModelConfig) -> list[tuple[int, StageWidths]]:
    """Per stage: its input width and its widths after the expansion (raises BuildError)."""
    out, in_chs = [], cfg.stem_width
    for i in range(cfg.num_stages):
        w = plan_stage(cfg, i, in_chs)
        out.append((in_chs, w))
        in_chs = w.out
    return out


def plan_stage(cfg: ModelConfig, i: int, in_chs: int) -> StageWidths:
    """Stage ``i``'s widths after the expansion, for an input of ``in_chs`` (BuildError)."""
    exp = int(round(cfg.out_chs[i] * cfg.expand_ratio[i]))
    groups = cfg.groups[i]
    try:
        w = stage_widths(
            exp,
            cfg.out_chs[i],
            cfg.fusion[i],
            cfg.split_ratio[i],
            lambda c: c,
            divisor=groups,
        )
        width = w.blocks_in if cfg.fusion[i] != "none" else cfg.out_chs[i]
        mid = int(round(width * cfg.bottle_ratio[i]))
        if mid % groups or in_chs % groups:
            raise BuildError(
                f"{groups} groups do not divide the blocks' inner width {mid} "
                f"or the input width {in_chs}"
            )
    except BuildError as exc:
        raise BuildError(f"stage {i}: {exc}") from None
    return w


def stem(cfg: ModelConfig) -> nn.Sequential:
    """One or two convolutions (the first with the stride) and an optional stride-2 max-pool."""
    widths = [cfg.stem_width // 2, cfg.stem_width][-cfg.stem_convs :]
    layers, prev = [], cfg.in_chans
    for i, width in enumerate(widths):
        stride = min(cfg.stem_stride, 2) if i == 0 else 1
        if cfg.stem_stride == 4 and not cfg.stem_pool and i == len(widths) - 1:
            stride = 2
        layers.append(ConvBnAct(prev, width, cfg.stem_kernel, stride, act=cfg.activation))
        prev = width
    if cfg.stem_pool:
        layers.append(nn.MaxPool2d(3, stride=2, padding=1))
    return nn.Sequential(*layers)


def stage(cfg: ModelConfig, i: int, in_chs: int, w: StageWidths, block: type) -> nn.Module:
    act, out_chs, groups = cfg.activation, cfg.out_chs[i], cfg.groups[i]

    def blocks(chs: int) -> nn.Sequential:
        return nn.Sequential(
            *(block(chs, cfg.bottle_ratio[i], groups, act) for _ in range(cfg.depth[i]))
        )

    if cfg.fusion[i] == "none":
        return nn.Sequential(
            ConvBnAct(in_chs, out_chs, 3, cfg.stride[i], groups, act), blocks(out_chs)
        )
    down_chs = out_chs if cfg.down_growth[i] else in_chs
    down = (
        ConvBnAct(in_chs, down_chs, 3, cfg.stride[i], groups, act)
        if cfg.stride[i] > 1
        else nn.Identity()
    )
    prev = down_chs if cfg.stride[i] > 1 else in_chs
    exp = w.bypass + w.blocks_in
    expand = ConvBnAct(prev, exp, 1, act=None if cfg.cross_linear[i] else act)
    return CSPStage(w, cfg.fusion[i], blocks(w.blocks_in), down, expand, act)


class CspBackbone(nn.Module):
    def __init__(self, cfg: ModelConfig, block: type) -> None:
        super().__init__()
        widths = plan(cfg)
        self.stem = stem(cfg)
        self.stages = nn.Sequential(
            *(stage(cfg, i, in_chs, w, block) for i, (in_chs, w) in enumerate(widths))
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1][1].out, cfg.num_classes)
        )

    def forward(self, x):  # noqa: ANN001, ANN201
        return self.head(self.stages(self.stem(x)))


@register_family("csp_resnet")
def csp_resnet(cfg: ModelConfig) -> nn.Module:
    return CspBackbone(cfg, RESIDUAL_BLOCKS["bottleneck"])


@register_family("csp_resnext")
def csp_resnext(cfg: ModelConfig) -> nn.Module:
    # The same bottleneck body; ResNeXt is groups > 1 on its 3×3 convolutions.
    return CspBackbone(cfg, RESIDUAL_BLOCKS["bottleneck"])


@register_family("csp_darknet")
def csp_darknet(cfg: ModelConfig) -> nn.Module:
    return CspBackbone(cfg, RESIDUAL_BLOCKS["dark"])
