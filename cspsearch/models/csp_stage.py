"""One generic CSP stage (CSPNet §3.1, Fig. 2-4): split by γ → blocks → fusion; the vocabulary
is docs/conventions.md's.

Every family supplies only its block body (and its down-sampling); the split, the transitions,
the concatenation and the pooling live here. Widths, for a stage with input width C, bypass
b = γ·C (part 1), part 2 = C − b, block output D (dense: part 2 + depth · growth), the
family's compression θ (DenseNet's; 1 for PeleeNet and the residual families) and the plain
stage's output width out (dense: θ · (C + depth · growth)). Dense stages end with a 2×2
average pool (all but the last stage); ``r`` is the stage's resolution::

    none   C ─ blocks ─ D ─ transition (D→out) @r ─ pool ────────────────────────── out @r/2

    full   ┌ b ───────────────────────────────┐
           C                                  cat ─ pool ─ transition 2 ─────────── out @r/2
           └ C−b ─ blocks ─ D ─ transition 1 ─┘ (b + θD @r)   (b+θD → out @r/2)
                              (D → θD @r)

    first  ┌ b ──────────────────┐
           C                     cat ─ pool ─ transition (b+D → out @r/2) ────────── out @r/2
           └ C−b ─ blocks ─ D ───┘ (b + D @r)

    last   ┌ b ───────────────────────────────┐
           C                                  cat[θD, b] ─ pool ─────────────── θD + b @r/2
           └ C−b ─ blocks ─ D ─ transition 1 ─┘  (block path first: the next split's bypass
                              (D → θD @r)          is taken from processed channels)

The rule: the partial transition (transition 1) compresses the block path by θ, so every γ in
(0, 1) builds; ``full`` and ``first`` end at the plain width (a drop-in stage), ``last`` ends
at its concatenation (with θ = 1 that is the plain width too). With θ = 1 the widths are
PeleeNet's partial transitions (CSPPeleeNet 2.83 M parameters without BatchNorm).
NOTE: the paper does not say where the transitions run relative to the stage's pooling. Here
transition 1 runs before it, at the stage's resolution, and the transition over the
concatenation after it, at the next stage's resolution (the last stage has no pooling): an
inference, the one structure that reproduces the paper's PeleeNet ablation in compute
(cspsearch/measure/paper_compute.py). The residual families down-sample at the start of a stage
(a strided convolution), so for them the pool is the identity.
NOTE: fresh bypass (docs/conventions.md#fresh-bypass). The bypass is taken from the front of
the input; a ``last`` stage puts its block path first, so the next stage's bypass is made of
processed channels and the channels that bypassed this stage go through the next one's blocks.
When the next stage's γ·C' exceeds the processed width θD (γ > ½, or θ < 1), its bypass is
clamped to θD: no channel bypasses two stages in a row, at the cost of a smaller effective γ
(recorded in ``StageWidths.bypass``). ``full``/``first`` mix every channel in their last
transition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

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
    *,
    compression: float = 1.0,
    fresh: int | None = None,
    divisor: int = 1,
) -> StageWidths:
    """Work out every width of a stage (see the module docstring for the rule).

    ``out_chs``: the plain stage's output width, which ``none``, ``full`` and ``first`` keep.
    ``compression``: θ; transition 1 makes ``max(1, round(θ · blocks_out))`` channels.
    ``fresh``: how many channels at the front of the input the previous stage processed
    (None: all of them); the bypass never takes more. ``divisor``: both parts are multiples of
    it (the group count of grouped blocks). BuildError only when ``in_chs`` cannot be split
    at all (fewer than 2 · divisor channels).
    """
    if fusion == "none":
        return StageWidths(0, in_chs, body_out(in_chs), out_chs, out_chs)
    bypass, blocks_in = split_channels(in_chs, split_ratio, divisor)
    if fresh is not None and bypass > fresh:
        bypass, blocks_in = fresh, in_chs - fresh
    blocks_out = body_out(blocks_in)
    if fusion == "first":
        return StageWidths(bypass, blocks_in, blocks_out, 0, out_chs)
    transition = max(1, round(compression * blocks_out))
    out = bypass + transition if fusion == "last" else out_chs
    return StageWidths(bypass, blocks_in, blocks_out, transition, out)


class CSPStage(nn.Module):
    """down → expand → split → body on part 2 → fuse with part 1 per ``fusion`` (with the
    pooling between the block-path transition and the transition over the concatenation).

    ``down`` (a strided convolution), ``expand`` (a 1×1 convolution) and ``pool`` (dense
    families' 2×2 average pool) come from the family; each may be the identity. The stage's
    input width for ``widths`` is the width after ``expand``.
    """

    def __init__(
        self,
        widths: StageWidths,
        fusion: str,
        body: nn.Module,
        down: nn.Module,
        expand: nn.Module | None = None,
        act: str = "relu",
        pool: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.fusion = fusion
        self.widths = w = widths
        self.down = down
        self.expand = expand if expand is not None else nn.Identity()
        self.body = body  # built by the family for w.blocks_in → w.blocks_out channels
        self.pools = pool is not None
        self.pool = pool if pool is not None else nn.Identity()
        # transition_b acts on the block output (transition 1; the plain stage's transition
        # when fusion is none); transition acts on the concatenation, after the pooling.
        has_b = fusion != "first"
        self.transition_b = (
            ConvBnAct(w.blocks_out, w.transition_out, act=act) if has_b else nn.Identity()
        )
        if fusion in ("first", "full"):
            path = w.blocks_out if fusion == "first" else w.transition_out
            self.transition = ConvBnAct(w.bypass + path, w.out, act=act)
        else:
            self.transition = nn.Identity()

    def forward_tap(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the stage's feature at its own resolution, the stage's output).

        The feature is the tensor just before the pooling (a detector's pyramid level); without
        a pooling it is the output.
        """
        x = self.expand(self.down(x))
        if self.fusion == "none":
            y = self.transition_b(self.body(x))
        else:
            bypass, part2 = x.split((self.widths.bypass, self.widths.blocks_in), dim=1)
            path = self.transition_b(self.body(part2))
            # `last`: block path first, so the next stage's split takes processed channels as
            # its bypass (the fresh-bypass NOTE above); otherwise timm's order, bypass first.
            y = torch.cat((path, bypass) if self.fusion == "last" else (bypass, path), dim=1)
        out = self.transition(self.pool(y))
        return (y if self.pools else out), out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_tap(x)[1]
