from __future__ import annotations

from torch import nn

from cspsearch.measure.macs import count_macs
from cspsearch.models import build_model
from cspsearch.space.configs import ModelConfig


def test_tiny_net_by_hand() -> None:
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.SiLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 10),
    )
    net.train()
    report = count_macs(net, input_size=8, in_chans=1)
    # conv: 4·8·8 outputs × 9 taps = 2304; BN (eval, affine): 2 per element = 512;
    # adaptive pool: 1 per input element = 256; linear: 4 × 10 = 40; SiLU is unknown to fvcore.
    assert report.by_operator == {
        "conv": 2304,
        "batch_norm": 512,
        "adaptive_avg_pool2d": 256,
        "linear": 40,
    }
    assert report.macs == 3112 and report.flops == 2 * 3112
    assert report.unsupported_ops == {"aten::silu": 1}
    # params: conv 36 + BN 8 + linear 50; the paper's convention leaves BN out.
    assert (report.params, report.params_no_bn) == (94, 86)
    assert report.input_size == 8
    assert net.training  # the caller's mode is restored


def test_by_stage_adds_up() -> None:
    model = build_model(ModelConfig(fusion="full"))
    report = count_macs(model, input_size=16, in_chans=1)
    assert set(report.by_stage) == {"stem", "stages.0", "stages.1", "stages.2", "head"}
    assert sum(report.by_stage.values()) == report.macs
    # The split and concat cost nothing; the average pools are recorded as left out.
    assert "aten::avg_pool2d" in report.unsupported_ops
