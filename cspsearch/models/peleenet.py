"""CSPPeleeNet: PeleeNet (Wang, Li & Ling 2018) on the CSPDenseNet stage plan — the backbone
of the CSPNet paper's γ × fusion ablation (§4.1, Table 1).

Stem block (3×3/2 conv, then a 1×1 → 3×3/2 branch beside a 2×2 max-pool, concatenated, 1×1)
→ stages of two-way dense layers → global average pool → linear. PeleeNet's transitions keep
the width (compression 1), and every stage but the last ends with a 2×2 average pool; CSP
stages follow csp_stage.py (transition 1 before the pool, the concatenation's transition
after it). The ``csppeleenet`` preset is CSP on stages 2-4 (presets.py).
A two-way layer adds growth_rate channels: half from 1×1 → 3×3, half from 1×1 → 3×3 → 3×3;
its 1×1 width is growth_rate/2 · bottle_ratio rounded down to a multiple of 4, and at most
half the layer's input (PeleeNet's rule, which a CSP split's narrower part 2 triggers more).
"""

from __future__ import annotations

import torch
from torch import nn

from cspsearch.models.densenet import CspDenseNet
from cspsearch.models.layers import ConvBnAct
from cspsearch.models.registry import register_family
from cspsearch.space.configs import ModelConfig


class StemBlock(nn.Module):
    def __init__(self, in_chans: int, width: int) -> None:
        super().__init__()
        self.conv1 = ConvBnAct(in_chans, width, 3, stride=2)
        self.branch_a = ConvBnAct(width, width // 2, 1)
        self.branch_b = ConvBnAct(width // 2, width, 3, stride=2)
        self.pool = nn.MaxPool2d(2, 2)
        self.fuse = ConvBnAct(2 * width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.fuse(torch.cat((self.pool(x), self.branch_b(self.branch_a(x))), dim=1))


class TwoWayDenseLayer(nn.Module):
    def __init__(self, in_chs: int, growth_rate: int, bottle_ratio: float) -> None:
        super().__init__()
        half = growth_rate // 2
        inner = max(4, int(half * bottle_ratio / 4) * 4)
        if inner > in_chs / 2:
            inner = max(4, int(in_chs / 8) * 4)
        self.branch1 = nn.Sequential(ConvBnAct(in_chs, inner, 1), ConvBnAct(inner, half, 3))
        self.branch2 = nn.Sequential(
            ConvBnAct(in_chs, inner, 1), ConvBnAct(inner, half, 3), ConvBnAct(half, half, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, self.branch1(x), self.branch2(x)), dim=1)


@register_family("csp_peleenet")
def csp_peleenet(cfg: ModelConfig) -> nn.Module:
    # The CSPDenseNet network with PeleeNet's stem block and two-way layers.
    return CspDenseNet(
        cfg,
        StemBlock(cfg.in_chans, cfg.stem_width),
        lambda c, i: TwoWayDenseLayer(c, cfg.growth_rate[i], cfg.bottle_ratio[i]),
    )
