from __future__ import annotations

import pytest
import torch

from cspsearch.errors import BuildError
from cspsearch.models import FAMILIES
from cspsearch.models import build_model
from cspsearch.space import configs
from cspsearch.space.configs import FUSIONS
from cspsearch.space.configs import ModelConfig


def test_config_lists_every_registered_family() -> None:
    # The space loader validates family names without importing torch.
    assert set(configs.FAMILIES) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("fusion", FUSIONS)
def test_family_forward_backward(family: str, fusion: str) -> None:
    cfg = ModelConfig(
        family=family, fusion=fusion, depth=(1, 2, 1), stem_width=8, growth_rate=4, num_classes=7
    )
    model = build_model(cfg)
    x = torch.randn(2, 1, 16, 16, requires_grad=True)
    out = model(x)
    assert out.shape == (2, 7)
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in model.parameters())


def test_csp_saves_compute_over_the_plain_network() -> None:
    def params(fusion: str) -> int:
        model = build_model(ModelConfig(fusion=fusion, depth=3, growth_rate=12))
        return sum(p.numel() for p in model.parameters())

    # Part 2 alone runs through the dense layers, so each CSP variant is smaller.
    assert all(params(f) < params("none") for f in ("first", "last", "full"))


def test_unknown_family_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="unknown model family 'resnet'"):
        build_model(ModelConfig(family="resnet"))
