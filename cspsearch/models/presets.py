"""Named architectures equal to the reference implementation's configs (timm's cspnet.py), as
ModelConfigs for 1000 ImageNet classes at their reference input size (no torch here).

The cs3 sizes come from one helper, as timm builds them: widths × w (rounded to multiples of
8) and depths × d (truncated) of the large model. ultralytics' YOLO models (csp_yolo) are in
yolo_presets.py and merged in here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cspsearch.models.yolo_presets import YOLO_PRESETS
from cspsearch.space.configs import ModelConfig

IMAGENET = dict(in_chans=3, num_classes=1000)
RESNET_STEM = dict(stem_width=64, stem_kernel=7, stem_stride=4, stem_pool=True)
DARKNET_STEM = dict(stem_width=32, stem_kernel=3, stem_stride=1)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor``, never more than 10% below ``value``
    (the rule of timm and the MobileNet papers)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _cs3(width: float, depth: float) -> ModelConfig:
    return ModelConfig(
        family="csp_darknet",
        num_stages=4,
        stem_width=make_divisible(64 * width),
        stem_convs=2,
        stem_kernel=3,
        stem_stride=2,
        activation="silu",
        fusion="first",
        out_chs=tuple(make_divisible(c * width) for c in (128, 256, 512, 1024)),
        depth=tuple(int(d * depth) for d in (3, 6, 9, 3)),
        stride=2,
        bottle_ratio=1.0,
        **IMAGENET,
    )


PRESETS: dict[str, tuple[ModelConfig, int]] = {  # name → (config, reference input size)
    "cspresnet50": (
        ModelConfig(
            family="csp_resnet",
            num_stages=4,
            depth=(3, 3, 5, 2),
            out_chs=(128, 256, 512, 1024),
            stride=(1, 2, 2, 2),
            expand_ratio=2.0,
            bottle_ratio=0.5,
            cross_linear=True,
            fusion="full",
            activation="leaky_relu",
            **RESNET_STEM,
            **IMAGENET,
        ),
        256,
    ),
    "cspresnext50": (
        ModelConfig(
            family="csp_resnext",
            num_stages=4,
            depth=(3, 3, 5, 2),
            out_chs=(256, 512, 1024, 2048),
            stride=(1, 2, 2, 2),
            groups=32,
            expand_ratio=1.0,
            bottle_ratio=1.0,
            cross_linear=True,
            fusion="full",
            activation="leaky_relu",
            **RESNET_STEM,
            **IMAGENET,
        ),
        256,
    ),
    "cspdarknet53": (
        ModelConfig(
            family="csp_darknet",
            num_stages=5,
            depth=(1, 2, 8, 8, 4),
            out_chs=(64, 128, 256, 512, 1024),
            stride=2,
            expand_ratio=(2.0, 1.0, 1.0, 1.0, 1.0),
            bottle_ratio=(0.5, 1.0, 1.0, 1.0, 1.0),
            down_growth=True,
            fusion="full",
            activation="leaky_relu",
            **DARKNET_STEM,
            **IMAGENET,
        ),
        256,
    ),
    "darknet53": (
        ModelConfig(
            family="csp_darknet",
            num_stages=5,
            depth=(1, 2, 8, 8, 4),
            out_chs=(64, 128, 256, 512, 1024),
            stride=2,
            bottle_ratio=0.5,
            fusion="none",
            activation="leaky_relu",
            **DARKNET_STEM,
            **IMAGENET,
        ),
        256,
    ),
    "cs3darknet_s": (_cs3(0.5, 0.5), 256),
    "cs3darknet_m": (_cs3(0.75, 0.67), 256),
    "cs3darknet_l": (_cs3(1.0, 1.0), 256),
    "cs3darknet_x": (_cs3(1.25, 1.33), 256),
    # PeleeNet (Wang, Li & Ling 2018) and the CSPNet paper's CSPPeleeNet (full, γ = 0.5).
    # NOTE: CSP on stages 2-4 only, stage 1 plain: an inference (no cfg was published); it is
    # the structure that reproduces the paper's ablation and CSPPeleeNet's 2.83 M parameters
    # (cspsearch/measure/paper_compute.py, csp_stage.py).
    "peleenet": (
        ModelConfig(
            family="csp_peleenet",
            num_stages=4,
            stem_width=32,
            growth_rate=32,
            depth=(3, 4, 8, 6),
            bottle_ratio=(1.0, 2.0, 4.0, 4.0),
            compression=1.0,
            fusion="none",
            **IMAGENET,
        ),
        224,
    ),
    "csppeleenet": (
        ModelConfig(
            family="csp_peleenet",
            num_stages=4,
            stem_width=32,
            growth_rate=32,
            depth=(3, 4, 8, 6),
            bottle_ratio=(1.0, 2.0, 4.0, 4.0),
            compression=1.0,
            fusion=("none", "full", "full", "full"),
            split_ratio=0.5,
            **IMAGENET,
        ),
        224,
    ),
}

PRESETS.update(YOLO_PRESETS)


def preset(name: str, **changes: Any) -> tuple[ModelConfig, int]:
    """A preset with fields changed (e.g. ``num_classes=10``); KeyError if unknown."""
    cfg, size = PRESETS[name]
    return replace(cfg, **changes), size


def resolve(
    name_or_path: str, input_size: int | None, classes: int | None
) -> tuple[str, ModelConfig, int]:
    """A preset name or a space file whose model values are all fixed → (label, config, input
    size). SpaceError names what is searched or unknown."""
    from cspsearch.errors import SpaceError
    from cspsearch.space.loader import load_space
    from cspsearch.space.searchspace import is_spec

    if name_or_path in PRESETS:
        cfg, size = PRESETS[name_or_path]
        label = name_or_path
    else:
        try:
            space = load_space(name_or_path)
        except SpaceError as exc:
            raise SpaceError(f"{exc} (presets: {', '.join(PRESETS)})") from None
        searched = [
            k
            for k, v in space.model.items()
            if is_spec(v) or isinstance(v, tuple) and any(is_spec(x) for x in v)
        ]
        if searched:
            raise SpaceError(
                f"{space.source}: model.{searched[0]}: is searched; "
                "`model show` needs every model value fixed"
            )
        cfg = ModelConfig(**space.model, in_chans=1, num_classes=10)  # the digits dataset
        size, label = space.data.input_size, space.name
    changes = {"num_classes": classes} if classes else {}
    return label, replace(cfg, **changes), input_size or size
