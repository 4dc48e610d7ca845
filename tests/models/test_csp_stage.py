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
    ("fusion", "ratio", "in_chs"),
    list(itertools.product(FUSIONS, (0.1, 0.25, 0.5, 0.75), (8, 13, 32))),
)
def test_stage_channel_bookkeeping(fusion: str, ratio: float, in_chs: int) -> None:
    depth, growth, out_chs = 2, 4, in_chs  # output as wide as the input
    try:
        w = stage_widths(in_chs, out_chs, fusion, ratio, lambda c: c + depth * growth)
    except BuildError:
        # Only last/full can run out of room: the bypass alone would fill the output.
        assert fusion in ("last", "full")
        assert out_chs - split_channels(in_chs, ratio)[0] < 1
        return
    if fusion == "none":
        assert (w.bypass, w.blocks_in) == (0, in_chs)
    else:
        assert w.bypass >= 1 and w.blocks_in >= 1 and w.bypass + w.blocks_in == in_chs
    assert w.blocks_out == w.blocks_in + depth * growth
    stage = CSPStage(
        w, fusion, dense_block(w.blocks_in, depth, growth, 2), down=torch.nn.AvgPool2d(2)
    )
    x = torch.randn(2, in_chs, 8, 8)
    part2_seen = []
    stage.body.register_forward_hook(
        lambda m, i, o: part2_seen.append((i[0].shape[1], o.shape[1]))
    )
    y = stage(x)
    # Pooled once, as wide as planned; the blocks saw only part 2.
    assert y.shape == (2, out_chs, 4, 4)
    assert part2_seen == [(w.blocks_in, w.blocks_out)]


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
    ("fusion", "expected"), [("none", 4352), ("first", 4096), ("last", 3072), ("full", 4096)]
)
def test_fusion_conv_macs_by_hand(fusion: str, expected: int) -> None:
    # 8 channels at 4×4, γ = 0.5, one dense layer (bottleneck 1, growth 4), output 8 channels:
    #   body on c channels: 1×1 c→4 (16·4c) + 3×3 4→4 (16·144 = 2304)
    #   none : body(8)=512+2304, transition 12→8 = 16·96 = 1536           → 4352
    #   first: body(4)=256+2304, transition (4+8)→8 = 1536                 → 4096
    #   last : body(4)=2560, transition_b 8→(8−4) = 16·32 = 512            → 3072
    #   full : last + transition 8→8 = 16·64 = 1024                        → 4096
    w = stage_widths(8, 8, fusion, 0.5, lambda c: c + 4)
    stage = CSPStage(w, fusion, dense_block(w.blocks_in, 1, 4, 1), down=torch.nn.Identity()).eval()
    assert _conv_macs(stage, torch.zeros(1, 8, 4, 4)) == expected


def test_impossible_config_rejected_before_building() -> None:
    cfg = ModelConfig(stem_width=32, depth=1, growth_rate=4, split_ratio=0.75, fusion="last")
    with pytest.raises(BuildError, match="stage 0: fusion last with split_ratio 0.75"):
        plan(cfg)
    with pytest.raises(BuildError):
        build_model(cfg)
