"""The residual blocks that a CSP stage repeats on part 2 (csp_stage.py's body), by name in
RESIDUAL_BLOCKS: the ResNe(X)t bottleneck and the DarkNet block. A stage's ``block`` is another
thing (configs.BLOCKS: csp, c3, c2f, …); the ``csp`` block is a stage of these.

Both keep their width (``chs`` in, ``chs`` out) so the shortcut is a plain addition.
"""

from __future__ import annotations

import torch
from torch import nn

from cspsearch.models.layers import ConvBnAct
from cspsearch.models.layers import get_activation


class Bottleneck(nn.Module):
    """1×1 → 3×3 (grouped) → 1×1 without activation, + shortcut, then the activation."""

    def __init__(self, chs: int, bottle_ratio: float, groups: int, act: str) -> None:
        super().__init__()
        mid = int(round(chs * bottle_ratio))
        self.conv1 = ConvBnAct(chs, mid, 1, act=act)
        self.conv2 = ConvBnAct(mid, mid, 3, groups=groups, act=act)
        self.conv3 = ConvBnAct(mid, chs, 1, act=None)
        self.act = get_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv3(self.conv2(self.conv1(x))) + x)


class DarkBlock(nn.Module):
    """1×1 → 3×3 (grouped), + shortcut (no activation after the sum)."""

    def __init__(self, chs: int, bottle_ratio: float, groups: int, act: str) -> None:
        super().__init__()
        mid = int(round(chs * bottle_ratio))
        self.conv1 = ConvBnAct(chs, mid, 1, act=act)
        self.conv2 = ConvBnAct(mid, chs, 3, groups=groups, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x)) + x


RESIDUAL_BLOCKS = {"bottleneck": Bottleneck, "dark": DarkBlock}
