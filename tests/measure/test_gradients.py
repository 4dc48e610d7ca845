"""Gradient duplication per stage (cspsearch/measure/gradients.py) on purpose-built stages."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cspsearch.measure.gradients import gradient_duplication
from cspsearch.measure.gradients import stage_layers
from cspsearch.models import build_model
from cspsearch.models.csp_stage import CSPStage
from cspsearch.models.csp_stage import StageWidths
from cspsearch.models.layers import ConvBnAct
from cspsearch.space.configs import ModelConfig


class Parallel(nn.Sequential):
    """Every layer reads the stage's input (or, with ``own``, its own perturbed copy of it);
    the outputs are summed."""

    def __init__(self, layers: list[nn.Module], own: bool = False) -> None:
        super().__init__(*layers)
        self.own = own
        self.noise = [
            torch.randn(1, 6, 8, 8, generator=torch.Generator().manual_seed(i))
            for i in range(len(layers))
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.own:
            return sum(layer(x + n) for layer, n in zip(self, self.noise))
        return sum(layer(x) for layer in self)


class Net(nn.Module):
    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.stem = ConvBnAct(1, 6, 3)
        widths = StageWidths(bypass=0, blocks_in=6, blocks_out=6, transition_out=6, out=6)
        self.stages = nn.Sequential(CSPStage(widths, "none", body, down=nn.Identity()))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def _batches(
    n: int = 2, in_chans: int = 1, size: int = 8
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        (
            torch.randn(16, in_chans, size, size, generator=g),
            torch.randint(0, 10, (16,), generator=g),
        )
        for _ in range(n)
    ]


def _net(body: nn.Module) -> Net:
    torch.manual_seed(0)
    return Net(body)


def test_identical_layers_fed_identical_inputs_give_one() -> None:
    torch.manual_seed(0)
    layer = ConvBnAct(6, 6, 1)
    net = _net(Parallel([layer, copy.deepcopy(layer), copy.deepcopy(layer)]))
    figure = gradient_duplication(net, _batches(), F.cross_entropy)
    # Same weights, same input, same upstream gradient: the same Gram matrix for every layer.
    assert figure["stages.0"] == pytest.approx(1.0, abs=1e-6)


def test_the_figure_falls_when_layers_differ_or_read_different_inputs() -> None:
    torch.manual_seed(0)
    layer = ConvBnAct(6, 6, 1)
    twins = [layer, copy.deepcopy(layer), copy.deepcopy(layer)]
    # Identical weights, but each layer reads its own perturbed input: the shared input is
    # what made the updates alike.
    own = gradient_duplication(_net(Parallel(twins, own=True)), _batches(), F.cross_entropy)
    independent = _net(Parallel([ConvBnAct(6, 6, 1) for _ in range(3)]))
    fresh = gradient_duplication(independent, _batches(), F.cross_entropy)
    assert own["stages.0"] < 0.5
    # Independently initialised layers: near the estimator's chance level, 0 (the plain cosine
    # of Gram matrices would sit near 0.7 here, whatever the layers did).
    assert abs(fresh["stages.0"]) < 0.3


def test_dense_stages_find_each_layers_bottleneck_and_restore_the_model() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(stem_width=8, growth_rate=4, depth=(3, 1), num_stages=2, fusion="full")
    net = build_model(cfg)
    layers = stage_layers(net)
    assert [len(v) for v in layers.values()] == [3, 1]
    before = copy.deepcopy(net.state_dict())
    figure = gradient_duplication(net, _batches(), F.cross_entropy)
    # A stage of one dense layer has nothing to compare; the other has a figure.
    assert figure["stages.1"] is None and -1.0 <= figure["stages.0"] <= 1.0
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics restored
    assert all(p.grad is None for p in net.parameters()) and net.training


@pytest.mark.parametrize("family", ["csp_resnet", "csp_darknet", "csp_peleenet"])
@pytest.mark.parametrize("fusion", ["none", "last"])
def test_every_family_gives_a_figure_per_deep_stage(family: str, fusion: str) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(
        family=family, num_stages=2, stem_width=16, out_chs=(16, 32), growth_rate=8,
        depth=2, fusion=fusion, stride=(1, 2),
    )  # fmt: skip
    figure = gradient_duplication(build_model(cfg), _batches(size=16), F.cross_entropy)
    assert set(figure) == {"stages.0", "stages.1"}
    assert all(v is not None and -1.0 <= v <= 1.0 + 1e-6 for v in figure.values()), figure


def test_a_detectors_backbone_stages_are_found_by_name() -> None:
    from cspsearch.models.detector import Detector
    from cspsearch.space.configs import DetectorConfig

    torch.manual_seed(0)
    cfg = ModelConfig(num_stages=3, stem_width=8, growth_rate=4, depth=2, in_chans=3)
    net = Detector(cfg, DetectorConfig(), 2, torch.rand(9, 2) * 32, 32)
    x = torch.randn(4, 3, 32, 32)
    figure = gradient_duplication(
        net, [(x, None)], lambda out, _: sum(o.pow(2).mean() for o in out)
    )
    assert set(figure) == {f"backbone.stages.{i}" for i in range(3)}
    assert all(v is not None and -1.0 <= v <= 1.0 for v in figure.values())
