"""The YOLO-era CSP blocks of the csp_yolo family in the project's terms (docs/family.md):
C3 (YOLOv5), C2f (YOLOv8), C3k2 with its C3k units (YOLO11), ELAN1 and RepNCSPELAN4
(YOLOv9, its RepConv in training form, unfused), written after
ultralytics.nn.modules.block and .conv.

Every block maps ``in_chs → out_chs`` at one resolution. A 1×1 projection (C3: two of them)
makes ``hidden = 2 · int(hidden_ratio · out_chs)`` channels (hidden_ratio is ultralytics' e);
the split ratio γ of them bypass the block's units (split_channels, docs/conventions.md
#split-ratio) and the rest go through them; a 1×1 transition over the concatenation ends the
block (fusion ``first``). C3 concatenates the bypass with the last unit's output only; C2f,
C3k2, ELAN and GELAN concatenate every intermediate output. γ = 0.5 is ultralytics' ½ chunk.
NOTE: γ and hidden_ratio are the block's outer split only; the units nested inside (C3k in
C3k2, RepCSP in GELAN) keep ultralytics' fixed halves (e = 0.5, split ½).
NOTE: a width below one channel is raised to one (ultralytics would build an empty conv), so
every γ × hidden_ratio builds on tiny widths; no ultralytics model reaches that floor.
NOTE: ``shortcut`` defaults to on for every block; ultralytics' C2f class defaults to off (its
C3, C3k2 and RepCSP to on), and its YOLOv8 YAMLs turn it on in the backbone (the presets) and
off in the head. tests/models/test_yolo.py compares each block's structure with ultralytics'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cspsearch.errors import BuildError
from cspsearch.models.layers import ConvBnAct
from cspsearch.models.layers import get_activation
from cspsearch.models.layers import split_channels

Unit = Callable[[int], nn.Module]  # width → one unit that keeps the width


@dataclass(frozen=True)
class BlockSpec:
    """One stage's block settings (ModelConfig's per-stage values for the stage)."""

    depth: int  # units (bottlenecks; ELAN: 3×3 convs in the chain; GELAN: per RepCSP)
    split_ratio: float = 0.5  # γ: the fraction of the hidden channels that bypass the units
    hidden_ratio: float = 0.5  # ultralytics' e
    shortcut: bool = True
    c3k: bool = False  # c3k2 only
    act: str = "silu"


def hidden_split(out_chs: int, hidden_ratio: float, split_ratio: float) -> tuple[int, int]:
    """(bypass, part through the units) of the ``2 · int(e · out_chs)`` hidden channels."""
    return split_channels(2 * max(1, int(out_chs * hidden_ratio)), split_ratio)


class Bottleneck(nn.Module):
    """ultralytics' Bottleneck: k1×k1 conv → k2×k2 conv (inner width ``mid_ratio`` × width, its
    e), plus the input when ``shortcut``."""

    def __init__(
        self,
        chs: int,
        kernels: tuple[int, int] = (3, 3),
        mid_ratio: float = 1.0,
        shortcut: bool = True,
        act: str = "silu",
    ) -> None:
        super().__init__()
        mid = max(1, int(chs * mid_ratio))
        self.cv1 = ConvBnAct(chs, mid, kernels[0], act=act)
        self.cv2 = ConvBnAct(mid, chs, kernels[1], act=act)
        self.add = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class RepConv(nn.Module):
    """RepVGG's training form: 3×3 conv + BN and 1×1 conv + BN side by side, summed, then the
    activation (ultralytics' RepConv without the identity BN, as RepBottleneck builds it)."""

    def __init__(self, in_chs: int, out_chs: int, act: str = "silu") -> None:
        super().__init__()
        self.conv1 = ConvBnAct(in_chs, out_chs, 3, act=None)
        self.conv2 = ConvBnAct(in_chs, out_chs, 1, act=None)
        self.act = get_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv1(x) + self.conv2(x))


class RepBottleneck(Bottleneck):
    """A 3×3/3×3 bottleneck whose first convolution is a RepConv (GELAN's RepCSP units)."""

    def __init__(self, chs: int, shortcut: bool = True, act: str = "silu") -> None:
        super().__init__(chs, (3, 3), 1.0, shortcut, act)
        self.cv1 = RepConv(chs, chs, act)


class C3(nn.Module):
    """Two 1×1 projections of the input: the part (hidden − bypass channels) through ``depth``
    units, and the bypass; concatenated [units' output, bypass] → 1×1 transition."""

    def __init__(self, in_chs: int, out_chs: int, depth: int, spec: BlockSpec, unit: Unit) -> None:
        super().__init__()
        bypass, part = hidden_split(out_chs, spec.hidden_ratio, spec.split_ratio)
        self.cv1 = ConvBnAct(in_chs, part, 1, act=spec.act)  # the path through the units
        self.cv2 = ConvBnAct(in_chs, bypass, 1, act=spec.act)  # the bypass
        self.m = nn.Sequential(*(unit(part) for _ in range(depth)))
        self.cv3 = ConvBnAct(part + bypass, out_chs, 1, act=spec.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), dim=1))


class ChainCSP(nn.Module):
    """One 1×1 projection split into [bypass | part]; ``steps`` run one after the other from the
    part, and the bypass, the part and every step's output are concatenated → 1×1 transition
    (C2f and C3k2 with units that keep the width; ELAN and GELAN with steps to ``step_chs``)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        spec: BlockSpec,
        steps: int,
        make_step: Callable[[int], nn.Module],
        step_chs: int | None = None,
    ) -> None:
        super().__init__()
        self.widths = hidden_split(out_chs, spec.hidden_ratio, spec.split_ratio)
        bypass, part = self.widths
        step_chs = part if step_chs is None else step_chs
        self.cv1 = ConvBnAct(in_chs, bypass + part, 1, act=spec.act)
        self.m = nn.ModuleList(make_step(part if i == 0 else step_chs) for i in range(steps))
        self.cv2 = ConvBnAct(bypass + part + steps * step_chs, out_chs, 1, act=spec.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = list(self.cv1(x).split(self.widths, dim=1))
        for step in self.m:
            y.append(step(y[-1]))
        return self.cv2(torch.cat(y, dim=1))


def c3(in_chs: int, out_chs: int, spec: BlockSpec) -> nn.Module:
    """YOLOv5's C3: units are 1×1 → 3×3 bottlenecks of the part's width."""
    return C3(
        in_chs,
        out_chs,
        spec.depth,
        spec,
        lambda c: Bottleneck(c, (1, 3), 1.0, spec.shortcut, spec.act),
    )


def c2f(in_chs: int, out_chs: int, spec: BlockSpec) -> nn.Module:
    """YOLOv8's C2f: units are 3×3 → 3×3 bottlenecks of the part's width."""
    return ChainCSP(
        in_chs,
        out_chs,
        spec,
        spec.depth,
        lambda c: Bottleneck(c, (3, 3), 1.0, spec.shortcut, spec.act),
    )


def c3k(chs: int, shortcut: bool, act: str) -> nn.Module:
    """YOLO11's C3k unit: a C3 of two 3×3 → 3×3 bottlenecks, ultralytics' fixed halves."""
    inner = BlockSpec(depth=2, shortcut=shortcut, act=act)
    return C3(chs, chs, 2, inner, lambda c: Bottleneck(c, (3, 3), 1.0, shortcut, act))


def c3k2(in_chs: int, out_chs: int, spec: BlockSpec) -> nn.Module:
    """YOLO11's C3k2: a C2f whose units are C3k (``c3k``) or 3×3 → 3×3 bottlenecks with half
    the width inside (ultralytics' default e = 0.5 of its Bottleneck)."""

    def unit(c: int) -> nn.Module:
        if spec.c3k:
            return c3k(c, spec.shortcut, spec.act)
        return Bottleneck(c, (3, 3), 0.5, spec.shortcut, spec.act)

    return ChainCSP(in_chs, out_chs, spec, spec.depth, unit)


def elan(in_chs: int, out_chs: int, spec: BlockSpec) -> nn.Module:
    """YOLOv9's ELAN1: a chain of ``depth`` 3×3 convolutions to ``int(e · out_chs)`` channels
    (ELAN1 is depth 2); no shortcut.
    NOTE: YOLOv7's ELAN projects twice and keeps every second output of a four-conv chain;
    this is YOLOv9's ELAN1 with its chain length searchable."""
    width = max(1, int(out_chs * spec.hidden_ratio))
    return ChainCSP(
        in_chs, out_chs, spec, spec.depth, lambda c: ConvBnAct(c, width, 3, act=spec.act), width
    )


def gelan(in_chs: int, out_chs: int, spec: BlockSpec) -> nn.Module:
    """YOLOv9's RepNCSPELAN4: two steps, each a RepCSP (a C3 of ``depth`` RepBottlenecks) to
    ``int(e · out_chs)`` channels then a 3×3 convolution."""
    width = max(1, int(out_chs * spec.hidden_ratio))
    inner = BlockSpec(depth=spec.depth, shortcut=spec.shortcut, act=spec.act)

    def step(c: int) -> nn.Module:
        rep = C3(c, width, spec.depth, inner, lambda w: RepBottleneck(w, spec.shortcut, spec.act))
        return nn.Sequential(rep, ConvBnAct(width, width, 3, act=spec.act))

    return ChainCSP(in_chs, out_chs, spec, 2, step, width)


BUILDERS: dict[str, Callable[[int, int, BlockSpec], nn.Module]] = {
    "c3": c3,
    "c2f": c2f,
    "c3k2": c3k2,
    "elan": elan,
    "gelan": gelan,
}


def make_block(kind: str, in_chs: int, out_chs: int, spec: BlockSpec) -> nn.Module:
    """A block of ``kind`` (one of BUILDERS); BuildError for another name."""
    if kind not in BUILDERS:
        raise BuildError(f"unknown block {kind!r} (known: {', '.join(BUILDERS)})")
    return BUILDERS[kind](in_chs, out_chs, spec)
