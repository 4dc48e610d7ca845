from __future__ import annotations

import itertools

import pytest
import torch

from cspsearch.errors import BuildError
from cspsearch.models import build_model
from cspsearch.models.csp_stage import CSPStage
from cspsearch.models.csp_stage import stage_widths
from cspsearch.models.densenet import dense_block
from cspsearch.models.densenet import plan
from cspsearch.models.layers import split_channels
from cspsearch.space.configs import FUSIONS
from cspsearch.space.configs import ModelConfig


@pytest.mark.parametrize(
    ("channels", "ratio", "expected"),
    [
        (24, 0.5, (12, 12)),
        (24, 0.25, (6, 18)),
        (10, 0.25, (2, 8)),
        (10, 0.75, (8, 2)),
        (2, 0.01, (1, 1)),
        (2, 0.99, (1, 1)),
        (7, 0.5, (4, 3)),
    ],
)
def test_split_rounds_to_nearest_and_keeps_both_parts(
    channels: int, ratio: float, expected: tuple[int, int]
) -> None:
    assert split_channels(channels, ratio) == expected


def test_split_respects_divisor() -> None:
    # With groups of 4, both parts stay multiples of 4 and at least 4 wide.
    assert split_channels(32, 0.3, divisor=4) == (8, 24)
    assert split_channels(8, 0.9, divisor=4) == (4, 4)
    with pytest.raises(BuildError, match="cannot split 6 channels"):
        split_channels(6, 0.5, divisor=4)
    with pytest.raises(BuildError):
        split_channels(1, 0.5)


@pytest.mark.parametrize(
    ("fusion", "ratio", "in_chs", "theta"),
    list(itertools.product(FUSIONS, (0.1, 0.25, 0.5, 0.75, 0.9), (2, 8, 13, 32), (0.5, 1.0))),
)
def test_stage_channel_bookkeeping(fusion: str, ratio: float, in_chs: int, theta: float) -> None:
    depth, growth = 2, 4
    out_chs = max(1, round(theta * (in_chs + depth * growth)))  # DenseNet's plain width
    # Every γ in (0, 1) builds: transition 1 compresses the block path by θ (no BuildError).
    w = stage_widths(
        in_chs, out_chs, fusion, ratio, lambda c: c + depth * growth, compression=theta
    )
    if fusion == "none":
        assert (w.bypass, w.blocks_in) == (0, in_chs)
    else:
        assert w.bypass >= 1 and w.blocks_in >= 1 and w.bypass + w.blocks_in == in_chs
    assert w.blocks_out == w.blocks_in + depth * growth
    if fusion in ("last", "full"):
        assert w.transition_out == max(1, round(theta * w.blocks_out))
    # full/first keep the plain width; last ends at its concatenation.
    assert w.out == (w.bypass + w.transition_out if fusion == "last" else out_chs)
    stage = CSPStage(
        w, fusion, dense_block(w.blocks_in, depth, growth, 2), down=torch.nn.Identity(),
        pool=torch.nn.AvgPool2d(2),
    )  # fmt: skip
    x = torch.randn(2, in_chs, 8, 8)
    part2_seen = []
    stage.body.register_forward_hook(
        lambda m, i, o: part2_seen.append((i[0].shape[1], o.shape[1]))
    )
    feature, y = stage.forward_tap(x)
    # Pooled once, as wide as planned; the blocks saw only part 2; the tap is the pre-pool map.
    assert y.shape == (2, w.out, 4, 4) and feature.shape[-1] == 8
    assert part2_seen == [(w.blocks_in, w.blocks_out)]


def test_bypass_never_takes_more_than_the_fresh_channels() -> None:
    # 30 channels of which the first 6 were processed by the previous stage: γ 0.75 asks for 22.
    w = stage_widths(30, 15, "last", 0.75, lambda c: c + 4, compression=0.5, fresh=6)
    assert (w.bypass, w.blocks_in) == (6, 24)
    # With enough fresh channels γ is kept as asked.
    assert stage_widths(30, 15, "full", 0.25, lambda c: c, fresh=20).bypass == 8


def _conv_macs(module: torch.nn.Module, x: torch.Tensor) -> int:
    total = 0

    def hook(m: torch.nn.Conv2d, i: tuple, o: torch.Tensor) -> None:
        nonlocal total
        total += o.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups

    for m in module.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(hook)
    module(x)
    return total


@pytest.mark.parametrize(
    ("fusion", "expected"), [("none", 5120), ("first", 3136), ("last", 3584), ("full", 4160)]
)
def test_fusion_conv_macs_by_hand(fusion: str, expected: int) -> None:
    # 8 channels at 4×4 (16 px), γ = 0.5, one dense layer (bottleneck 1, growth 4), θ = 1, plain
    # output 12 channels; a 2×2 pool ends the stage (4 px after it):
    #   body on c channels @16: 1×1 c→4 (16·4c) + 3×3 4→4 (16·144 = 2304)
    #   none : body(8)=512+2304, transition 12→12 @16 = 16·144 = 2304, then pool     → 5120
    #   first: body(4)=256+2304, concat 4+8 → pool → transition 12→12 @4 = 576      → 3136
    #   last : body(4)=2560, transition 1 8→8 @16 = 16·64 = 1024, concat → pool      → 3584
    #   full : last + transition 2 (4+8)→12 after the pool, @4 = 4·144 = 576         → 4160
    w = stage_widths(8, 12, fusion, 0.5, lambda c: c + 4)
    stage = CSPStage(
        w, fusion, dense_block(w.blocks_in, 1, 4, 1), down=torch.nn.Identity(),
        pool=torch.nn.AvgPool2d(2),
    ).eval()  # fmt: skip
    assert _conv_macs(stage, torch.zeros(1, 8, 4, 4)) == expected


def test_former_impossible_config_builds_and_only_an_unsplittable_width_is_rejected() -> None:
    # γ 0.75 with last used to leave no room for the part 2 transition; now stage 0 is
    # 24 bypass + 8 through one layer (12) → transition 1 to θ·12 = 6 → 6 + 24 = 30 out, and
    # stage 1's bypass is clamped to those 6 processed channels (22 asked).
    cfg = ModelConfig(stem_width=32, depth=1, growth_rate=4, split_ratio=0.75, fusion="last")
    widths = plan(cfg)
    assert (widths[0].bypass, widths[0].transition_out, widths[0].out) == (24, 6, 30)
    assert (widths[1].bypass, widths[1].blocks_in) == (6, 24)
    assert build_model(cfg)(torch.randn(1, 1, 8, 8)).shape == (1, 10)
    with pytest.raises(BuildError, match="stage 0: cannot split 1 channels"):
        plan(ModelConfig(stem_width=1, fusion="full"))
