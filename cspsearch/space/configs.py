"""Frozen configs passed from a space file to a model and a training run; no torch here.

Field names equal the YAML keys of a space file's ``model:``, ``train:`` and ``data:`` sections.
A per-stage model field takes one value for every stage or a list with one value per stage;
``ModelConfig`` pads a single value to ``num_stages`` entries. This module holds the only copy
of every name the package accepts (fusions, families, samplers, …); rules.py checks values.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import fields
from typing import Any

FUSIONS = ("none", "first", "last", "full")
# Model families: cspsearch.models registers a builder for each and refuses any other name.
FAMILIES = (
    "csp_densenet",
    "csp_resnet",
    "csp_resnext",
    "csp_darknet",
    "csp_peleenet",
    "csp_yolo",
)
# The values of the model key ``block``, what a csp_yolo stage is (docs/family.md): csp is the
# darknet CSP stage with ``fusion``; the others are ultralytics' C3 (YOLOv5), C2f (YOLOv8), C3k2
# (YOLO11), ELAN1 and RepNCSPELAN4 (YOLOv9). Every other family's stages are ``csp``. (The units
# a csp stage repeats inside are residual blocks: models/blocks.py's RESIDUAL_BLOCKS.)
BLOCKS = ("csp", "c3", "c2f", "c3k2", "elan", "gelan")
# The per-stage keys that only some blocks take (every block takes depth, out_chs, stride,
# down_growth and split_ratio; csp's split_ratio only when its fusion is not none).
BLOCK_KEYS = {
    "csp": ("fusion", "expand_ratio", "bottle_ratio", "groups", "cross_linear"),
    "c3": ("hidden_ratio", "shortcut"),
    "c2f": ("hidden_ratio", "shortcut"),
    "c3k2": ("hidden_ratio", "shortcut", "c3k"),
    "elan": ("hidden_ratio",),
    "gelan": ("hidden_ratio", "shortcut"),
}
BLOCK_ONLY = tuple(sorted({k for keys in BLOCK_KEYS.values() for k in keys}))


def block_takes(block: str, key: str) -> bool:
    """Whether a stage with ``block`` takes the model key ``key`` (keys outside BLOCK_ONLY:
    every block; an unknown block takes none of BLOCK_ONLY)."""
    return key not in BLOCK_ONLY or key in BLOCK_KEYS.get(block, ())


YOLO_ONLY = ("down", "tail", "tail_depth", "head")  # model keys only csp_yolo takes
DOWNS = ("conv", "aconv")  # csp_yolo's stride-2 down-sampling: 3×3/2 conv, or YOLOv9's AConv
TAILS = ("none", "sppf", "c2psa", "sppf_c2psa", "sppelan")  # after csp_yolo's last stage
HEADS = ("linear", "classify")  # pool → linear, or ultralytics' Classify (1×1 to 1280 first)
# The task each dataset trains (cspsearch/training/task.py finds the task's package by name).
DATASET_TASKS = {
    "digits": "classification",
    "cifar10": "classification",
    "cifar100": "classification",
    "imagefolder": "classification",
    "shapes": "detection",
    "coco": "detection",
}
DATASETS = tuple(DATASET_TASKS)
DETECTION_DATASETS = tuple(d for d, t in DATASET_TASKS.items() if t == "detection")
NECKS = ("fpn", "gfm", "efm")  # cspsearch.models.necks builds each; it refuses others
ATTENTIONS = ("none", "sam", "se")
BOX_LOSSES = ("iou", "giou", "diou", "ciou")
PRECISIONS = ("fp32", "bf16", "auto")  # training precision (cspsearch/training/precision.py)
SAMPLERS = ("tpe", "nsga2", "gp", "random", "grid")  # cspsearch/trials/samplers.py makes each
ACTIVATIONS = ("relu", "leaky_relu", "silu", "mish")
# What a trial can be scored on, and limited by before training (latency: ms at batch 1 on the
# trial's device; activations: fvcore's count, a proxy for memory traffic).
OBJECTIVES = (
    "val_accuracy",
    "val_ap50",
    "val_ap",
    "macs",
    "flops",
    "params",
    "latency",
    "latency_ort",  # ms at batch 1 in ONNX Runtime's CPU provider (cspsearch/measure/onnx.py)
    "activations",
)
SCORES = {"val_accuracy": "accuracy", "val_ap50": "AP50", "val_ap": "AP"}  # higher is better
BUDGETS = ("macs", "params", "latency", "latency_ort", "activations")
TOP_KEYS = ("description", "model", "train", "detector", "data", "objectives", "budget")
TOP_KEYS += ("study", "measure")
STUDY_KEYS = ("n_trials", "sampler", "timeout", "baseline_first")  # StudyConfig's fields
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
        "block",
        "hidden_ratio",
        "shortcut",
        "c3k",
    }
)


@dataclass(frozen=True)
class ModelConfig:
    """One network. Per-stage fields hold a tuple with one value per stage."""

    family: str = "csp_densenet"
    num_stages: int = 3
    stem_width: int = 24  # channels after the stem convolution
    depth: tuple[int, ...] | int = 2  # blocks (dense layers) per stage
    growth_rate: tuple[int, ...] | int = 12  # channels each dense layer adds
    split_ratio: tuple[float, ...] | float = 0.5  # γ: fraction of channels that bypass the blocks
    # none / first / last / full (docs/conventions.md#fusion)
    fusion: tuple[str, ...] | str = "full"
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
    # csp_yolo (cspsearch/models/yolo.py, docs/family.md); other families' stages are csp:
    block: tuple[str, ...] | str = "csp"  # one of BLOCKS
    hidden_ratio: tuple[float, ...] | float = 0.5  # ultralytics' e: 2·e·out_chs hidden channels
    shortcut: tuple[bool, ...] | bool = True  # residual adds in the block's bottlenecks
    c3k: tuple[bool, ...] | bool = False  # c3k2 only: inner units are small C3s (C3k)
    down: str = "conv"  # one of DOWNS, for csp_yolo's yolo-block stages of stride 2
    tail: str = "none"  # one of TAILS, run after the last stage (part of it)
    tail_depth: int = 1  # PSA blocks in a c2psa tail
    head: str = "linear"  # one of HEADS
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
    # records the resolved one (cspsearch/training/precision.py).
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


@dataclass(frozen=True)
class StudyConfig:
    """Defaults for a run of the space (a space's ``study:`` section)."""

    n_trials: int = 20  # counted trials the study should hold
    sampler: str = "tpe"  # one of SAMPLERS
    timeout: float | None = None  # seconds after which no new trial starts
    baseline_first: bool = True  # a new study's first trial is the plain network (fusion none)


@dataclass(frozen=True)
class MeasureConfig:
    """How a trial's costs are measured (a space's ``measure:`` section)."""

    ort_threads: int = 1  # ONNX Runtime's intra-op threads for latency_ort (1: the edge case)


def per_stage(value: Any, num_stages: int, name: str = "value") -> tuple:
    """Return ``value`` as a tuple of ``num_stages`` entries (a scalar is repeated)."""
    if not isinstance(value, (list, tuple)):
        return (value,) * num_stages
    if len(value) == 1:
        return tuple(value) * num_stages
    if len(value) != num_stages:
        raise ValueError(f"{name} has {len(value)} values for {num_stages} stages")
    return tuple(value)


SET_BY_DATA = ("in_chans", "num_classes")  # model fields the dataset decides, not the file

# The dataclass that each section of a space file fills.
SECTION_CONFIGS = {
    "model": ModelConfig,
    "train": TrainConfig,
    "data": DataConfig,
    "detector": DetectorConfig,
    "study": StudyConfig,
    "measure": MeasureConfig,
}


def field_names(section: str) -> list[str]:
    """YAML keys a section accepts, in the dataclass's order (not those the data decides)."""
    return [f.name for f in fields(SECTION_CONFIGS[section]) if f.name not in SET_BY_DATA]
