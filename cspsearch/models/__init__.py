"""Model families: a registry of builders, ModelConfig → nn.Module."""

from __future__ import annotations

import warnings
from collections.abc import Callable

from torch import nn

from cspsearch.configs import ModelConfig
from cspsearch.errors import BuildError

Builder = Callable[[ModelConfig], nn.Module]
FAMILIES: dict[str, Builder] = {}


def register_family(name: str) -> Callable[[Builder], Builder]:
    """Register a builder for family ``name`` (warns when a name is registered twice)."""

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


from cspsearch.models import backbones  # noqa: E402,F401  (registers its families)
from cspsearch.models import densenet  # noqa: E402,F401  (registers its family)
from cspsearch.models import peleenet  # noqa: E402,F401  (registers its family)

__all__ = ["FAMILIES", "build_model", "register_family"]
