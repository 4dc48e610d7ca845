"""Necks: every neck × option builds and trains; EFM's level s reads only levels s−1..s+1."""

import itertools

import pytest
import torch
from torch import nn

from cspsearch.errors import BuildError
from cspsearch.measure.macs import count_macs
from cspsearch.models.detector import Detector
from cspsearch.models.necks import NECKS
from cspsearch.models.necks import Maxout
from cspsearch.models.necks import Neck
from cspsearch.space.configs import NECKS as CONFIG_NECKS
from cspsearch.space.configs import DetectorConfig
from cspsearch.space.configs import ModelConfig

IN_CHS = (8, 12, 16)
SIZES = (8, 4, 2)


def features(batch: int = 2) -> list[torch.Tensor]:
    return [torch.randn(batch, c, s, s, requires_grad=True) for c, s in zip(IN_CHS, SIZES)]


def test_neck_names_agree_with_configs():
    assert NECKS == CONFIG_NECKS


@pytest.mark.parametrize(
    "neck,maxout,spp,attention",
    list(itertools.product(NECKS, (0, 2, 4), (False, True), ("none", "sam", "se"))),
)
def test_every_combination_runs_forward_and_backward(neck, maxout, spp, attention):
    torch.manual_seed(0)
    module = Neck(neck, IN_CHS, 8, maxout, spp, attention)
    inputs = features()
    out = module(inputs)
    assert [tuple(o.shape) for o in out] == [(2, 8, s, s) for s in SIZES]
    sum(o.square().mean() for o in out).backward()
    assert all(f.grad is not None and f.grad.abs().sum() > 0 for f in inputs)
    assert all(p.grad is not None for p in module.parameters())


def reads(neck: str, level: int) -> set[int]:
    """The backbone levels whose values change the neck's output at ``level`` (by autograd)."""
    torch.manual_seed(0)
    module = Neck(neck, IN_CHS, 8, maxout=2).eval()  # eval: BatchNorm does not mix samples
    inputs = features(1)
    module(inputs)[level].sum().backward()
    return {i for i, f in enumerate(inputs) if f.grad is not None and f.grad.abs().sum() > 0}


def test_efm_level_reads_only_its_neighbours():
    assert reads("efm", 0) == {0, 1}
    assert reads("efm", 1) == {0, 1, 2}
    assert reads("efm", 2) == {1, 2}


def test_gfm_reads_every_level_and_fpn_reads_coarser_ones():
    assert all(reads("gfm", s) == {0, 1, 2} for s in range(3))
    assert [reads("fpn", s) for s in range(3)] == [{0, 1, 2}, {1, 2}, {2}]


def test_maxout_takes_the_max_of_each_group():
    x = torch.tensor([1.0, 5.0, -2.0, -3.0]).view(1, 4, 1, 1)
    assert Maxout(2)(x).flatten().tolist() == [5.0, -2.0]


@pytest.mark.parametrize("size", [2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_maxout_training_path_equals_amax_to_the_bit(size, dtype, layout):
    # The training path (_GroupMax) must give amax's output and gradient exactly, ties (the
    # gradient shared), NaN and the sign of zero included: a study's numbers must not move.
    generator = torch.Generator().manual_seed(size)
    x = torch.randn(3, 4 * size, 5, 5, generator=generator).to(dtype)
    tie = torch.rand(x[:, 1::size].shape, generator=generator) < 0.3
    x[:, 1::size] = torch.where(tie, x[:, 0::size], x[:, 1::size])
    x[0, 0, 0, 0] = float("nan")
    x = x.contiguous(memory_format=layout)
    grad = torch.randn(3, 4, 5, 5, generator=generator).to(dtype)
    grad[0, 0] = -grad[0, 0].abs()  # negative gradients at losers: −0, not +0
    expected_x, actual_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    expected = expected_x.view(3, 4, size, 5, 5).amax(dim=2)
    actual = Maxout(size)(actual_x)
    expected.backward(grad)
    actual.backward(grad)
    assert tie.any()
    with torch.no_grad():
        inferred = Maxout(size)(x)  # inference: the same maxima without a graph
    for a, b in ((actual, expected), (actual_x.grad, expected_x.grad), (inferred, expected)):
        a, b = a.nan_to_num(7.0), b.nan_to_num(7.0)  # (a NaN's sign bit is not a number)
        assert torch.equal(a, b) and torch.equal(a.signbit(), b.signbit())


def test_maxout_traces_as_one_amax():
    # fvcore (a trial's recorded unsupported ops) and the ONNX export read the traced graph.
    report = count_macs(nn.Sequential(nn.Conv2d(3, 4, 1), Maxout(2)), 3, 3)
    assert report.unsupported_ops == {"aten::amax": 1}


def test_maxout_size_must_divide_the_fused_channels():
    with pytest.raises(BuildError, match="maxout_size 3"):
        Neck("efm", IN_CHS, 8, maxout=3)


BACKBONE = ModelConfig(
    family="csp_darknet",
    num_stages=3,
    stem_width=8,
    stem_stride=2,
    out_chs=(16, 24, 32),
    stride=2,
    depth=1,
    down_growth=True,
    fusion="full",
    in_chans=3,
)
ANCHORS = torch.tensor([[4.0, 4.0]] * 3 + [[8.0, 8.0]] * 3 + [[16.0, 16.0]] * 3)


@pytest.mark.parametrize("neck", NECKS)
def test_detector_outputs_one_map_per_level(neck):
    torch.manual_seed(0)
    model = Detector(BACKBONE, DetectorConfig(neck=neck, neck_width=8), 3, ANCHORS, 32)
    out = model(torch.randn(2, 3, 32, 32))
    assert model.strides == (4, 8, 16)
    assert [tuple(o.shape) for o in out] == [(2, 3, s, s, 8) for s in (8, 4, 2)]


def test_detector_refuses_a_backbone_whose_levels_do_not_halve():
    cfg = ModelConfig(**{**BACKBONE.to_dict(), "stride": [2, 1, 2]})
    with pytest.raises(BuildError, match="halve"):
        Detector(cfg, DetectorConfig(), 3, ANCHORS, 32)
