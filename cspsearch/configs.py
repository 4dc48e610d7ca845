"""Frozen configs passed from a space file to a model and a training run; no torch here.

Field names equal the YAML keys of a space file's ``model:``, ``train:`` and ``data:`` sections.
A per-stage model field takes one value for every stage or a list with one value per stage;
``ModelConfig`` pads a single value to ``num_stages`` entries. ``RULES`` holds the check for
each field, used by the space loader for fixed values, choices and range bounds alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import fields
from typing import Any

FUSIONS = ("none", "first", "last", "full")
# Registered model families (cspsearch.models registers the builders; a test keeps both equal).
FAMILIES = ("csp_densenet", "csp_resnet", "csp_resnext", "csp_darknet", "csp_peleenet")
DATASETS = ("digits", "cifar10", "cifar100", "imagefolder", "shapes", "coco")
DETECTION_DATASETS = ("shapes", "coco")  # a space reading one of these trains a detector
NECKS = ("fpn", "gfm", "efm")  # kept equal to cspsearch.models.necks.NECKS by a test
ATTENTIONS = ("none", "sam", "se")
BOX_LOSSES = ("iou", "giou", "diou", "ciou")
PRECISIONS = ("fp32", "bf16", "auto")  # training precision (cspsearch/precision.py)
PER_STAGE = frozenset(
    {
        "depth",
        "growth_rate",
        "split_ratio",
        "fusion",
        "out_chs",
        "stride",
        "groups",
        "expand_ratio",
        "bottle_ratio",
        "cross_linear",
        "down_growth",
    }
)

Rule = Callable[[Any], str | None]  # returns why a value is invalid, or None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(low: int, high: int | None = None) -> Rule:
    def check(value: Any) -> str | None:
        if not _is_int(value):
            return "must be an integer"
        if value < low or (high is not None and value > high):
            return f"must be in [{low}, {high if high is not None else 'inf'}]"
        return None

    return check


def _float(low: float, high: float, *, low_open: bool, high_open: bool) -> Rule:
    def check(value: Any) -> str | None:
        if not (_is_int(value) or isinstance(value, float)) or not math.isfinite(value):
            return "must be a finite number"
        if (value <= low if low_open else value < low) or (
            value >= high if high_open else value > high
        ):
            return f"must be in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        return None

    return check


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a text"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _one_of(options: tuple[str, ...]) -> Rule:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}"

    return check


@dataclass(frozen=True)
class ModelConfig:
    """One network. Per-stage fields hold a tuple with one value per stage."""

    family: str = "csp_densenet"
    num_stages: int = 3
    stem_width: int = 24  # channels after the stem convolution
    depth: tuple[int, ...] | int = 2  # blocks (dense layers) per stage
    growth_rate: tuple[int, ...] | int = 12  # channels each dense layer adds
    split_ratio: tuple[float, ...] | float = 0.5  # γ: fraction of channels that bypass the blocks
    fusion: tuple[str, ...] | str = "full"  # none / first / last / full (DESIGN.md §2)
    compression: float = 0.5  # DenseNet's θ: stage width = θ · (input + depth · growth_rate)
    bottleneck: int = 4  # a dense layer's 1×1 width, in multiples of its growth rate
    # Bottleneck and dark-block families (csp_resnet, csp_resnext, csp_darknet; timm's cspnet.py):
    out_chs: tuple[int, ...] | int = 64  # stage output channels
    stride: tuple[int, ...] | int = 2  # stage stride (a 3×3 down-convolution when > 1)
    groups: tuple[int, ...] | int = 1  # groups of the blocks' 3×3 convolutions (ResNeXt)
    expand_ratio: tuple[float, ...] | float = 1.0  # 1×1 expansion before the split, × out_chs
    bottle_ratio: tuple[float, ...] | float = 1.0  # a block's inner width, × its width
    cross_linear: tuple[bool, ...] | bool = False  # no activation after the expansion
    down_growth: tuple[bool, ...] | bool = False  # the down-convolution already makes out_chs
    activation: str = "relu"
    stem_kernel: int = 3
    stem_stride: int = 1  # 1, 2 or 4 (4: a stride-2 convolution and, with stem_pool, a max-pool)
    stem_pool: bool = False
    stem_convs: int = 1  # 2: a first convolution to stem_width / 2 (cs3 stems)
    in_chans: int = 1  # set from the dataset, not from the space file
    num_classes: int = 10  # set from the dataset, not from the space file

    def __post_init__(self) -> None:
        # Pad scalars to one value per stage (timm's CspStagesCfg does the same); a frozen
        # dataclass needs object.__setattr__ for it.
        for name in PER_STAGE:
            object.__setattr__(self, name, per_stage(getattr(self, name), self.num_stages, name))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class TrainConfig:
    """One brief training run."""

    epochs: int = 3
    batch_size: int = 64
    lr: float = 3e-3  # peak learning rate of AdamW
    weight_decay: float = 5e-4
    warmup_fraction: float = 0.1  # share of the steps spent on a linear warm-up
    # Training images used to re-estimate BatchNorm statistics before each evaluation (0: off).
    # In a run of a few epochs the running averages lag the fast-moving weights: measured here,
    # validation accuracy after 1 epoch was 0.10 without and 0.77 with it.
    precise_bn: int = 256
    seed: int = 0  # model initialisation and batch order
    seeds: int = 1  # train each architecture this many times (seed, seed+1, …); score = mean
    # fp32, bf16 (autocast) or auto (bf16 where the device computes it natively); a trial
    # records the resolved one (cspsearch/precision.py).
    precision: str = "auto"


@dataclass(frozen=True)
class DataConfig:
    """The dataset and its fixed train/validation/test split."""

    dataset: str = "digits"
    input_size: int = 16  # images are resized to input_size × input_size
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0  # the split is the same for every trial of a study
    path: str = ""  # folder of cifar10 / cifar100 / imagefolder data
    augment: bool = False  # random crop (4-pixel padding) and horizontal flip while training
    images: int = 1000  # images the built-in synthetic ``shapes`` dataset generates


@dataclass(frozen=True)
class DetectorConfig:
    """The detection neck and head on top of a backbone (a space's ``detector:`` section)."""

    neck: str = "efm"  # fpn / gfm / efm (models/necks.py)
    neck_width: int = 32  # channels of every pyramid level after the neck
    maxout: bool = True  # compress each fusion's concatenation with Maxout
    maxout_size: int = 2  # channels per Maxout group
    spp: bool = False  # spatial pyramid pooling on the coarsest level
    attention: str = "none"  # none / sam / se, on each fused level
    box_loss: str = "giou"  # iou / giou / diou / ciou


def per_stage(value: Any, num_stages: int, name: str = "value") -> tuple:
    """Return ``value`` as a tuple of ``num_stages`` entries (a scalar is repeated)."""
    if not isinstance(value, (list, tuple)):
        return (value,) * num_stages
    if len(value) == 1:
        return tuple(value) * num_stages
    if len(value) != num_stages:
        raise ValueError(f"{name} has {len(value)} values for {num_stages} stages")
    return tuple(value)


RULES: dict[str, dict[str, Rule]] = {
    "model": {
        "family": _one_of(FAMILIES),
        "num_stages": _int(1, 6),
        "stem_width": _int(1, 4096),
        "depth": _int(1, 64),
        "growth_rate": _int(1, 1024),
        "split_ratio": _float(0.0, 1.0, low_open=True, high_open=True),
        "fusion": _one_of(FUSIONS),
        "compression": _float(0.0, 1.0, low_open=True, high_open=False),
        "bottleneck": _int(1, 16),
        "out_chs": _int(1, 8192),
        "stride": _int(1, 2),
        "groups": _int(1, 1024),
        "expand_ratio": _float(0.0, 8.0, low_open=True, high_open=False),
        "bottle_ratio": _float(0.0, 8.0, low_open=True, high_open=False),
        "cross_linear": _bool,
        "down_growth": _bool,
        "activation": _one_of(("relu", "leaky_relu", "silu", "mish")),
        "stem_kernel": _int(1, 11),
        "stem_stride": _int(1, 4),
        "stem_pool": _bool,
        "stem_convs": _int(1, 2),
    },
    "train": {
        "epochs": _int(1, 10_000),
        "batch_size": _int(1, 1 << 16),
        "lr": _float(0.0, 10.0, low_open=True, high_open=False),
        "weight_decay": _float(0.0, 1.0, low_open=False, high_open=False),
        "warmup_fraction": _float(0.0, 1.0, low_open=False, high_open=True),
        "precise_bn": _int(0, 1 << 20),
        "seed": _int(0, 2**31 - 1),
        "seeds": _int(1, 100),
        "precision": _one_of(PRECISIONS),
    },
    "detector": {
        "neck": _one_of(NECKS),
        "neck_width": _int(4, 4096),
        "maxout": _bool,
        "maxout_size": _int(2, 16),
        "spp": _bool,
        "attention": _one_of(ATTENTIONS),
        "box_loss": _one_of(BOX_LOSSES),
    },
    "data": {
        "dataset": _one_of(DATASETS),
        "input_size": _int(8, 1024),
        "val_fraction": _float(0.0, 0.5, low_open=True, high_open=False),
        "test_fraction": _float(0.0, 0.5, low_open=True, high_open=False),
        "split_seed": _int(0, 2**31 - 1),
        "path": _text,
        "augment": _bool,
        "images": _int(1, 1_000_000),
    },
}

# The dataclass that each section of a space file fills.
SECTION_CONFIGS = {
    "model": ModelConfig,
    "train": TrainConfig,
    "data": DataConfig,
    "detector": DetectorConfig,
}


def field_names(section: str) -> list[str]:
    """YAML keys a section accepts, in the dataclass's order."""
    return [f.name for f in fields(SECTION_CONFIGS[section]) if f.name in RULES[section]]
