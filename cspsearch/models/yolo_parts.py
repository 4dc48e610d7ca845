"""The parts around csp_yolo's blocks (docs/family.md), after ultralytics.nn.modules.block
and .head: the tails after the last stage (SPPF, C2PSA with its PSA blocks and attention,
SPPELAN), YOLOv9's AConv down-sampling and the Classify head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cspsearch.errors import BuildError
from cspsearch.models.layers import ConvBnAct

CLASSIFY_WIDTH = 1280  # ultralytics' Classify: "efficientnet_b0 size"


class SPPF(nn.Module):
    """Spatial pyramid pooling, fast: 1×1 to half the width, three 5×5 max-pools in a row,
    every output concatenated → 1×1 (equal to SPP's 5, 9, 13 pools side by side). Both 1×1s
    have the activation, as in every ultralytics model with a preset here: ultralytics 8.4's
    SPPF class makes the first linear (YOLO26's), but its parse_model gives it the activation
    back for the YOLOv5/v8/11 YAMLs (tests/models/test_yolo_structure.py)."""

    def __init__(self, in_chs: int, out_chs: int, act: str = "silu", k: int = 5) -> None:
        super().__init__()
        hidden = max(1, in_chs // 2)
        self.cv1 = ConvBnAct(in_chs, hidden, 1, act=act)
        self.pool = nn.MaxPool2d(k, 1, k // 2)
        self.cv2 = ConvBnAct(4 * hidden, out_chs, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.pool(y[-1]))
        return self.cv2(torch.cat(y, dim=1))


class SPPELAN(nn.Module):
    """YOLOv9's SPPELAN: SPPF's pattern, its first 1×1 to ``hidden`` channels (with the
    activation)."""

    def __init__(
        self, in_chs: int, out_chs: int, hidden: int, act: str = "silu", k: int = 5
    ) -> None:
        super().__init__()
        self.cv1 = ConvBnAct(in_chs, hidden, 1, act=act)
        self.pool = nn.MaxPool2d(k, 1, k // 2)
        self.cv5 = ConvBnAct(4 * hidden, out_chs, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.pool(y[-1]))
        return self.cv5(torch.cat(y, dim=1))


def attention_heads(dim: int) -> int:
    """ultralytics' ``max(dim // 64, 1)`` heads, lowered until they divide ``dim``.
    NOTE: ultralytics fails on a width its head count does not divide; no model of theirs has
    one, and this rule keeps their count wherever it works."""
    heads = max(dim // 64, 1)
    while dim % heads:
        heads -= 1
    return heads


class Attention(nn.Module):
    """Multi-head self-attention over the pixels, from 1×1 projections, plus a 3×3 depth-wise
    positional term on the values; keys and queries have half the head width."""

    def __init__(self, dim: int, heads: int, attn_ratio: float = 0.5) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.key_dim = max(1, int(self.head_dim * attn_ratio))  # NOTE: ≥ 1 for tiny widths
        self.scale = self.key_dim**-0.5
        self.qkv = ConvBnAct(dim, dim + 2 * self.key_dim * heads, 1, act=None)
        self.proj = ConvBnAct(dim, dim, 1, act=None)
        self.pe = ConvBnAct(dim, dim, 3, groups=dim, act=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(x).view(b, self.heads, 2 * self.key_dim + self.head_dim, h * w)
        q, k, v = qkv.split((self.key_dim, self.key_dim, self.head_dim), dim=2)
        attn = ((q * self.scale).transpose(-2, -1) @ k).softmax(dim=-1)
        out = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + self.pe(v.reshape(b, c, h, w))
        return self.proj(out)


class PSABlock(nn.Module):
    """Attention, then a 1×1 feed-forward (2× wide), each with a residual add."""

    def __init__(self, chs: int, act: str = "silu") -> None:
        super().__init__()
        self.attn = Attention(chs, attention_heads(chs))
        self.ffn = nn.Sequential(
            ConvBnAct(chs, 2 * chs, 1, act=act), ConvBnAct(2 * chs, chs, 1, act=None)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.ffn(x)


class C2PSA(nn.Module):
    """YOLO11's C2PSA: a 1×1 split in halves (γ = 0.5, e = 0.5 in the block terms), ``depth``
    PSA blocks on one half, concatenated with the other → 1×1 back to the input width."""

    def __init__(self, chs: int, depth: int = 1, act: str = "silu") -> None:
        super().__init__()
        self.half = max(1, int(chs * 0.5))
        self.cv1 = ConvBnAct(chs, 2 * self.half, 1, act=act)
        self.m = nn.Sequential(*(PSABlock(self.half, act) for _ in range(depth)))
        self.cv2 = ConvBnAct(2 * self.half, chs, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.cv1(x).split((self.half, self.half), dim=1)
        return self.cv2(torch.cat((a, self.m(b)), dim=1))


class AConv(nn.Module):
    """YOLOv9's AConv: a 2×2 average pool of stride 1, then a 3×3 stride-2 convolution."""

    def __init__(self, in_chs: int, out_chs: int, act: str = "silu") -> None:
        super().__init__()
        self.cv1 = ConvBnAct(in_chs, out_chs, 3, 2, act=act, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv1(F.avg_pool2d(x, 2, 1, 0, False, True))


class Classify(nn.Module):
    """ultralytics' Classify head: 1×1 to 1280 channels, global average pool, dropout, linear.
    NOTE: it returns logits in eval mode too; ultralytics returns (softmax, logits) there (the
    same argmax; the softmax is not a MAC in fvcore's count)."""

    def __init__(self, in_chs: int, num_classes: int, act: str = "silu") -> None:
        super().__init__()
        self.conv = ConvBnAct(in_chs, CLASSIFY_WIDTH, 1, act=act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(p=0.0, inplace=True)
        self.linear = nn.Linear(CLASSIFY_WIDTH, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.drop(self.pool(self.conv(x)).flatten(1)))


def make_tail(kind: str, chs: int, depth: int = 1, act: str = "silu") -> nn.Module:
    """The part after the last stage; each keeps the width ``chs``.
    SPPELAN's hidden width is half of it (YOLOv9-T: SPPELAN [128, 64])."""
    if kind == "none":
        return nn.Identity()
    if kind == "sppf":
        return SPPF(chs, chs, act)
    if kind == "c2psa":
        return C2PSA(chs, depth, act)
    if kind == "sppf_c2psa":
        return nn.Sequential(SPPF(chs, chs, act), C2PSA(chs, depth, act))
    if kind == "sppelan":
        return SPPELAN(chs, chs, max(1, chs // 2), act)
    raise BuildError(f"unknown tail {kind!r} (none, sppf, c2psa, sppf_c2psa, sppelan)")


def make_head(kind: str, chs: int, num_classes: int, act: str = "silu") -> nn.Module:
    """pool → linear, or ultralytics' Classify."""
    if kind == "linear":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(chs, num_classes))
    if kind == "classify":
        return Classify(chs, num_classes, act)
    raise BuildError(f"unknown head {kind!r} (linear, classify)")
