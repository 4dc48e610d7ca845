"""Detection necks over a three-level pyramid: FPN, GFM and EFM, with Maxout, SPP and attention.

Levels are indexed fine → coarse (0, 1, 2); each level halves the resolution of the one before.
A neck maps the backbone's three feature maps to three maps of ``width`` channels:

- ``fpn``: top-down; level s fuses its own feature with the (already fused) next coarser one.
- ``gfm``: global fusion; level s fuses every level, resized to its resolution.
- ``efm``: exact fusion (CSPNet §3.2); level s fuses only levels s−1, s and s+1, because a box
  assigned to level s is bounded by the fields of view of its neighbours.

A fusion resizes its inputs (nearest upsampling, max-pool downsampling: parameter-free), concats
them, optionally compresses the concatenation with Maxout, and mixes it with a 3×3 convolution.
NOTE: the paper's EFM also uses Maxout to compress; here Maxout is an option of every neck so
its effect can be ablated on its own.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cspsearch.errors import BuildError
from cspsearch.models.layers import ConvBnAct
from cspsearch.space.configs import NECKS  # the only copy of the names; sources() knows each


def sources(neck: str, level: int, levels: int = 3) -> tuple[int, ...]:
    """The levels whose features the fusion of ``level`` reads (FPN: the fused coarser one)."""
    if neck == "fpn":
        return (level,) if level == levels - 1 else (level, level + 1)
    if neck == "gfm":
        return tuple(range(levels))
    if neck == "efm":
        return tuple(s for s in (level - 1, level, level + 1) if 0 <= s < levels)
    raise BuildError(f"unknown neck {neck!r} (known: {', '.join(NECKS)})")


class Maxout(nn.Module):
    """Channel-wise max over consecutive groups of ``size`` channels (C → C / size)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing():  # MAC counting and ONNX export see one amax
            b, c, h, w = x.shape
            return x.view(b, c // self.size, self.size, h, w).amax(dim=2)
        if x.requires_grad and torch.is_grad_enabled():
            return _GroupMax.apply(x, self.size)
        return _group_max(x, self.size)  # the same numbers, faster


def _group_max(x: torch.Tensor, size: int) -> torch.Tensor:
    y = x[:, 0::size]
    for i in range(1, size):  # slice i holds channel i of every group
        y = torch.maximum(y, x[:, i::size])
    return y


class _GroupMax(torch.autograd.Function):
    """``x.view(b, c // size, size, h, w).amax(2)`` and amax's own gradient, to the bit, in
    elementwise operations over strided channel slices: amax over that middle dimension
    copied and reduced slowly in channels_last (forward and backward of a bf16 (16, 64, 16, 16)
    map on one CPU thread: 3.0 ms against 1.7 here), and its output was not channels_last. A
    default csp_efm trial, which uses Maxout, is 2% faster (docs/speed.md)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, size: int) -> torch.Tensor:
        y = _group_max(x, size)
        ctx.save_for_backward(x, y)
        ctx.size = size
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        x, y = ctx.saved_tensors
        size = ctx.size
        hits = [x[:, i::size] == y for i in range(size)]
        # amax's rule (scale_grad_by_count): the gradient shared equally by tied maxima.
        count = hits[0].to(grad.dtype)
        for hit in hits[1:]:
            count += hit
        share = grad / count
        out = torch.empty_like(x)
        for i, hit in enumerate(hits):
            torch.mul(share, hit, out=out[:, i::size])
        return out, None


class SPP(nn.Module):
    """Spatial pyramid pooling (YOLOv3-SPP): max-pools of 5, 9, 13 concatenated, then 1×1."""

    def __init__(self, channels: int, act: str) -> None:
        super().__init__()
        self.kernels = (5, 9, 13)
        self.conv = ConvBnAct(channels * 4, channels, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = [F.max_pool2d(x, k, 1, k // 2) for k in self.kernels]
        return self.conv(torch.cat([x, *pooled], dim=1))


class SAM(nn.Module):
    """Spatial attention as in YOLOv4's modified SAM: x · sigmoid(conv(x)), point-wise."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv(x))


class SE(nn.Module):
    """Squeeze-and-excitation channel attention (reduction 4)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(4, channels // 4)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


def attention(name: str, channels: int) -> nn.Module:
    if name == "none":
        return nn.Identity()
    if name == "sam":
        return SAM(channels)
    if name == "se":
        return SE(channels)
    raise BuildError(f"unknown attention {name!r} (known: none, sam, se)")


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bring a square feature map to ``size`` × ``size`` without parameters."""
    if x.shape[-1] == size:
        return x
    if x.shape[-1] < size:
        return F.interpolate(x, size=(size, size), mode="nearest")
    return F.max_pool2d(x, x.shape[-1] // size)


class Fusion(nn.Module):
    """Resize the inputs to one level, concat, (Maxout), 3×3 conv, attention."""

    def __init__(self, inputs: int, width: int, maxout: int, act: str, attend: str) -> None:
        super().__init__()
        channels = inputs * width
        if maxout > 1 and channels % maxout:
            raise BuildError(f"maxout_size {maxout} does not divide the {channels} fused channels")
        self.maxout = Maxout(maxout) if maxout > 1 else nn.Identity()
        self.conv = ConvBnAct(channels // max(1, maxout), width, 3, act=act)
        self.attention = attention(attend, width)

    def forward(self, features: list[torch.Tensor], size: int) -> torch.Tensor:
        x = torch.cat([resize(f, size) for f in features], dim=1)
        return self.attention(self.conv(self.maxout(x)))


class Neck(nn.Module):
    """1×1 laterals to ``width`` channels (SPP on the coarsest), then one Fusion per level."""

    def __init__(
        self,
        neck: str,
        in_chs: tuple[int, ...],
        width: int,
        maxout: int = 0,
        spp: bool = False,
        attend: str = "none",
        act: str = "leaky_relu",
    ) -> None:
        super().__init__()
        self.neck, self.levels = neck, len(in_chs)
        self.reads = [sources(neck, s, self.levels) for s in range(self.levels)]
        laterals = [ConvBnAct(c, width, 1, act=act) for c in in_chs]
        if spp:
            laterals[-1] = nn.Sequential(laterals[-1], SPP(width, act))
        self.laterals = nn.ModuleList(laterals)
        self.fusions = nn.ModuleList(
            Fusion(len(r), width, maxout, act, attend) for r in self.reads
        )

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        lateral = [conv(f) for conv, f in zip(self.laterals, features)]
        out: list[torch.Tensor | None] = [None] * self.levels
        # FPN builds coarse → fine and reads the fused coarser level; GFM/EFM read laterals.
        for s in reversed(range(self.levels)):
            inputs = [
                lateral[r] if r == s or self.neck != "fpn" else out[r] for r in self.reads[s]
            ]
            out[s] = self.fusions[s](inputs, lateral[s].shape[-1])
        return out  # type: ignore[return-value]
