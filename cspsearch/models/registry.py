"""The registry of model families: a family's builder registers under its name, which must be
one of cspsearch.space.configs.FAMILIES (the only copy of the names)."""

from __future__ import annotations

import warnings
from collections.abc import Callable

from torch import nn

from cspsearch.errors import BuildError
from cspsearch.space.configs import FAMILIES as FAMILY_NAMES
from cspsearch.space.configs import ModelConfig

Builder = Callable[[ModelConfig], nn.Module]
FAMILIES: dict[str, Builder] = {}


def register_family(name: str) -> Callable[[Builder], Builder]:
    """Register a builder for family ``name`` (warns when a name is registered twice; refuses a
    name the space files cannot name)."""
    if name not in FAMILY_NAMES:
        raise ValueError(f"family {name!r} is not in cspsearch.space.configs.FAMILIES")

    def register(fn: Builder) -> Builder:
        if name in FAMILIES:
            warnings.warn(f"model family {name!r} registered twice", stacklevel=2)
        FAMILIES[name] = fn
        return fn

    return register


def build_model(cfg: ModelConfig) -> nn.Module:
    """Build the network ``cfg`` describes; BuildError if the family or widths are impossible."""
    if cfg.family not in FAMILIES:
        raise BuildError(f"unknown model family {cfg.family!r} (known: {', '.join(FAMILIES)})")
    return FAMILIES[cfg.family](cfg)
