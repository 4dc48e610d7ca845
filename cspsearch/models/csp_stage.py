"""One generic CSP stage (CSPNet §3.1, DESIGN.md §2-3): split by γ → blocks → fusion.

Every family supplies only its block body; the split, transitions and concatenation live here.
The stage's output width is the same for every fusion, so a CSP stage is a drop-in
replacement for the plain one and each ablation changes one stage design only.
NOTE: the paper does not fix the transition widths. Here the part-2 transition of ``last``
and ``full`` produces ``out_chs - bypass`` channels, so the concatenation is already
``out_chs`` wide; ``full`` adds a 1×1 transition over it, ``first`` has a single transition
over the concatenation of the bypass and the raw block output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from cspsearch.errors import BuildError
from cspsearch.models.layers import ConvBnAct
from cspsearch.models.layers import split_channels


@dataclass(frozen=True)
class StageWidths:
    """Channel bookkeeping of one stage; computed before any module is built."""

    bypass: int  # part 1 (x0'), skips the blocks; 0 when fusion is none
    blocks_in: int  # part 2 (x0''), goes through the blocks
    blocks_out: int
    transition_out: int  # width of the transition applied to the block output (0 if none)
    out: int


def stage_widths(
    in_chs: int,
    out_chs: int,
    fusion: str,
    split_ratio: float,
    body_out: Callable[[int], int],
    keep_part: bool = False,
    divisor: int = 1,
) -> StageWidths:
    """Work out every width of a stage, or raise BuildError saying why it cannot exist.

    ``keep_part``: part 2's transition keeps part 2's width (timm's CrossStage), so with fusion
    full the concatenation is ``in_chs`` wide, and with fusion last the stage's output is (the
    concatenation, ``in_chs`` wide). Otherwise that transition makes ``out_chs - bypass``
    channels so the stage outputs ``out_chs`` (CSPDenseNet). ``divisor``: both parts are
    multiples of it (the group count of grouped blocks).
    """
    if fusion == "none":
        return StageWidths(0, in_chs, body_out(in_chs), out_chs, out_chs)
    bypass, blocks_in = split_channels(in_chs, split_ratio, divisor)
    blocks_out = body_out(blocks_in)
    if fusion == "first":
        return StageWidths(bypass, blocks_in, blocks_out, 0, out_chs)
    if fusion == "full" and keep_part:
        return StageWidths(bypass, blocks_in, blocks_out, blocks_in, out_chs)
    if fusion == "last" and keep_part:  # the concatenation is the output: in_chs wide
        return StageWidths(bypass, blocks_in, blocks_out, blocks_in, in_chs)
    if out_chs - bypass < 1:
        raise BuildError(
            f"fusion {fusion} with split_ratio {split_ratio}: the {bypass} bypass channels "
            f"leave no room in the stage's {out_chs} output channels"
        )
    return StageWidths(bypass, blocks_in, blocks_out, out_chs - bypass, out_chs)


class CSPStage(nn.Module):
    """down → expand → split → body on part 2 → fuse with part 1 per ``fusion``.

    ``down`` (pooling or a strided convolution) and ``expand`` (a 1×1 convolution) come from
    the family; either may be ``nn.Identity()``. The stage's input width for ``widths`` is the
    width after ``expand``.
    """

    def __init__(
        self,
        widths: StageWidths,
        fusion: str,
        body: nn.Module,
        down: nn.Module,
        expand: nn.Module | None = None,
        act: str = "relu",
    ) -> None:
        super().__init__()
        self.fusion = fusion
        self.widths = w = widths
        self.down = down
        self.expand = expand if expand is not None else nn.Identity()
        self.body = body  # built by the family for w.blocks_in → w.blocks_out channels
        # transition_b acts on the block output; transition on the concatenation (or on the
        # block output alone when there is no split).
        has_b = fusion in ("last", "full", "none")
        self.transition_b = (
            ConvBnAct(w.blocks_out, w.transition_out, act=act) if has_b else nn.Identity()
        )
        if fusion == "first":
            self.transition = ConvBnAct(w.bypass + w.blocks_out, w.out, act=act)
        elif fusion == "full":
            self.transition = ConvBnAct(w.bypass + w.transition_out, w.out, act=act)
        else:
            self.transition = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.expand(self.down(x))
        if self.fusion == "none":
            return self.transition_b(self.body(x))
        bypass, part2 = x.split((self.widths.bypass, self.widths.blocks_in), dim=1)
        y = self.transition_b(self.body(part2))
        return self.transition(torch.cat((bypass, y), dim=1))
