"""Every stage's bypass is fresh (docs/conventions.md#fresh-bypass): no input channel of a stage
reaches the output of the next stage untouched, for every fusion pair and γ — checked by
autograd."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from cspsearch.models import build_model
from cspsearch.space.configs import FUSIONS
from cspsearch.space.configs import ModelConfig

RATIOS = (0.1, 0.25, 0.5, 0.75, 0.9)  # the bundled spaces' γ (0.25, 0.5, 0.75) and extremes
pytestmark = pytest.mark.usefixtures("one_thread")
DENSE = dict(num_stages=3, stem_width=16, depth=(1, 2, 1), growth_rate=8, in_chans=3)


def untouched_channels(stages: nn.Module, x: torch.Tensor) -> list[tuple[int, int]]:
    """(output channel, input channel) pairs where the output of ``stages`` is the input
    channel itself, at most average-pooled: its value equals the pooled channel and its
    gradient lives on that one input channel (a processed channel does neither)."""
    x = x.detach().requires_grad_()
    y = stages(x)
    pooled = F.adaptive_avg_pool2d(x, y.shape[-2:])
    # Candidates by value (an untouched channel must equal its pooled input), then autograd.
    diff = (y[0, :, None] - pooled[0, None]).abs().flatten(2).amax(2)
    found = []
    for o, c in (diff < 1e-5).nonzero().tolist():
        (grad,) = torch.autograd.grad(y[0, o].sum(), x, retain_graph=True)
        if grad[0].abs().sum((1, 2)).nonzero().flatten().tolist() == [c]:
            found.append((o, c))
    return found


def _model(**fields: object) -> nn.Module:
    # Eval mode: BatchNorm uses its (fresh) running statistics, the same for every call.
    return build_model(ModelConfig(**{**DENSE, **fields})).eval()


def _stage_input(model: nn.Module, i: int, size: int) -> torch.Tensor:
    # A random input of stage i's width and resolution (signs both ways, so ReLUs show).
    with torch.no_grad():
        x = model.stem(torch.zeros(1, 3, size, size, dtype=torch.float32))
        for stage in model.stages[:i]:
            x = stage(x)
    return torch.randn_like(x)


def test_the_check_sees_one_stage_of_bypass() -> None:
    # Across ONE `last` stage its bypass is untouched, by design: the check must find it.
    model = _model(fusion="last", split_ratio=0.5)
    found = untouched_channels(model.stages[0], _stage_input(model, 0, 16))
    bypass = model.stages[0].widths.bypass
    assert len(found) == bypass and {c for _, c in found} == set(range(bypass))


@pytest.mark.parametrize("family", ["csp_densenet", "csp_peleenet"])
@pytest.mark.parametrize("ratio", RATIOS)
def test_no_channel_bypasses_two_stages(family: str, ratio: float) -> None:
    size = 32 if family == "csp_peleenet" else 16  # PeleeNet's stem block divides by 4
    for fusions in itertools.product(FUSIONS, repeat=3):
        model = _model(family=family, fusion=fusions, split_ratio=ratio)
        for i in (0, 1):
            pair = nn.Sequential(model.stages[i], model.stages[i + 1])
            found = untouched_channels(pair, _stage_input(model, i, size))
            assert not found, f"{fusions} γ {ratio}: stages {i}-{i + 1} pass {found} untouched"
