"""CSPDenseNet (CSPNet §3.1, Fig. 2-3): partial dense blocks and partial transitions.

Stem (3×3 conv) → stages → global average pool → linear. Every stage but the last ends with
DenseNet's 2×2 average pool. A plain stage (fusion ``none``) outputs DenseNet's
``compression · (in + depth · growth_rate)`` channels; a CSP stage's widths and where its
transitions run relative to the pool follow csp_stage.py (``full``/``first`` keep that width,
``last`` outputs bypass + θ · block output). The split of a stage after a ``last`` stage takes
its bypass from that stage's processed channels only (the fresh-bypass NOTE in csp_stage.py).
NOTE: the transition placement was inferred from the paper's PeleeNet ablation (csp_stage.py)
and is applied here too, since DenseNet's stages end with the same pooled 1×1 transition.
Which stages are CSP is the config's per-stage ``fusion``; CSPPeleeNet's plain first stage is
a preset (presets.py), not a rule of the family.
NOTE: layers are post-activation conv → BN → ReLU as in PeleeNet and the CSPNet reference
configs, not DenseNet-BC's pre-activation BN → ReLU → conv.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from cspsearch.errors import BuildError
from cspsearch.models.csp_stage import CSPStage
from cspsearch.models.csp_stage import StageWidths
from cspsearch.models.csp_stage import stage_widths
from cspsearch.models.layers import ConvBnAct
from cspsearch.models.registry import register_family
from cspsearch.space.configs import ModelConfig


class DenseLayer(nn.Module):
    """1×1 bottleneck → 3×3 conv producing ``growth_rate`` channels, concatenated to the input."""

    def __init__(self, in_chs: int, growth_rate: int, bottleneck: int) -> None:
        super().__init__()
        self.conv1 = ConvBnAct(in_chs, bottleneck * growth_rate, 1)
        self.conv2 = ConvBnAct(bottleneck * growth_rate, growth_rate, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, self.conv2(self.conv1(x))), dim=1)


def dense_block(in_chs: int, depth: int, growth_rate: int, bottleneck: int) -> nn.Sequential:
    """``depth`` dense layers; output width ``in_chs + depth · growth_rate``."""
    return layers(in_chs, depth, growth_rate, lambda c: DenseLayer(c, growth_rate, bottleneck))


def layers(
    in_chs: int, depth: int, growth_rate: int, make_layer: Callable[[int], nn.Module]
) -> nn.Sequential:
    """``depth`` layers that each add ``growth_rate`` channels to their input."""
    return nn.Sequential(*(make_layer(in_chs + i * growth_rate) for i in range(depth)))


def plan(cfg: ModelConfig) -> list[StageWidths]:
    """Every stage's widths, checked before anything is built (raises BuildError)."""
    widths, in_chs, fresh = [], cfg.stem_width, None
    for i in range(cfg.num_stages):
        added = cfg.depth[i] * cfg.growth_rate[i]
        out_chs = max(1, round(cfg.compression * (in_chs + added)))
        try:
            w = stage_widths(
                in_chs,
                out_chs,
                cfg.fusion[i],
                cfg.split_ratio[i],
                lambda c, added=added: c + added,
                compression=cfg.compression,
                fresh=fresh,
            )
        except BuildError as exc:
            raise BuildError(f"stage {i}: {exc}") from None
        widths.append(w)
        # After `last`, only its transition's channels (at the front) went through blocks.
        fresh = w.transition_out if cfg.fusion[i] == "last" else None
        in_chs = w.out
    return widths


class CspDenseNet(nn.Module):
    """Stem → dense stages on the plan's widths → pool → linear. ``stem`` and ``make_layer``
    (input width, stage index → one dense layer) let a dense family (PeleeNet) swap its parts."""

    def __init__(
        self,
        cfg: ModelConfig,
        stem: nn.Module | None = None,
        make_layer: Callable[[int, int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        widths = plan(cfg)
        make_layer = make_layer or (lambda c, i: DenseLayer(c, cfg.growth_rate[i], cfg.bottleneck))
        self.stem = stem if stem is not None else ConvBnAct(cfg.in_chans, cfg.stem_width, 3)
        self.stages = nn.Sequential(
            *(
                CSPStage(
                    w,
                    cfg.fusion[i],
                    layers(
                        w.blocks_in,
                        cfg.depth[i],
                        cfg.growth_rate[i],
                        lambda c, i=i: make_layer(c, i),
                    ),
                    down=nn.Identity(),
                    pool=nn.AvgPool2d(2) if i < len(widths) - 1 else None,
                )
                for i, w in enumerate(widths)
            )
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(widths[-1].out, cfg.num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


@register_family("csp_densenet")
def csp_densenet(cfg: ModelConfig) -> nn.Module:
    return CspDenseNet(cfg)
