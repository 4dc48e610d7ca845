"""Every model a bundled space can sample builds: each fusion × γ × width choice × depth bound
(issue 12: no BuildError from channel arithmetic); in the dense families no channel bypasses
two consecutive stages."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch

from cspsearch.models import build_model
from cspsearch.space.configs import ModelConfig
from cspsearch.space.loader import bundled_spaces
from cspsearch.space.loader import load_space
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import Range
from tests.models.test_fresh_bypass import untouched_channels

pytestmark = pytest.mark.usefixtures("one_thread")


def _values(spec: Any) -> list:
    """A value's options: every choice, a range's two bounds, one list per stage."""
    if isinstance(spec, tuple):
        return [tuple(v) for v in itertools.product(*(_values(s) for s in spec))]
    if isinstance(spec, Choice):
        return list(spec.choices)
    if isinstance(spec, Range):
        return sorted({spec.low, spec.high})
    return [spec]


def model_choices(name: str) -> list[dict[str, Any]]:
    """Every combination of the space's model options (bounds only for ranges)."""
    model = load_space(name).model
    keys = sorted(model)
    return [
        dict(zip(keys, combo)) for combo in itertools.product(*(_values(model[k]) for k in keys))
    ]


@pytest.mark.parametrize("name", sorted(bundled_spaces()))
def test_every_model_choice_of_a_bundled_space_builds(name: str) -> None:
    space = load_space(name)
    in_chans = 1 if space.data.dataset == "digits" else 3
    x = torch.randn(1, in_chans, space.data.input_size, space.data.input_size)
    combos = model_choices(name)
    assert len(combos) >= 24  # fusion × γ at least
    for values in combos:
        model = build_model(ModelConfig(**values, in_chans=in_chans, num_classes=10)).eval()
        with torch.no_grad():
            assert model(x).shape == (1, 10), values
            inputs = [model.stem(x)]
            for stage in model.stages:
                inputs.append(stage(inputs[-1]))
        if values["family"] in ("csp_densenet", "csp_peleenet"):  # residual: mixed by design
            for i in range(len(model.stages) - 1):
                pair = torch.nn.Sequential(model.stages[i], model.stages[i + 1])
                found = untouched_channels(pair, torch.randn_like(inputs[i]))
                assert not found, f"{values}: stages {i}-{i + 1} pass {found} untouched"
