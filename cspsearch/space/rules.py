"""The check of every field of a space file's sections: fixed values, choices and range bounds
alike (used by cspsearch/space/parse.py). A rule returns why a value is invalid, or None."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from cspsearch.space.configs import ACTIVATIONS
from cspsearch.space.configs import ATTENTIONS
from cspsearch.space.configs import BLOCKS
from cspsearch.space.configs import BOX_LOSSES
from cspsearch.space.configs import DATASETS
from cspsearch.space.configs import DOWNS
from cspsearch.space.configs import FAMILIES
from cspsearch.space.configs import FUSIONS
from cspsearch.space.configs import HEADS
from cspsearch.space.configs import NECKS
from cspsearch.space.configs import PRECISIONS
from cspsearch.space.configs import SAMPLERS
from cspsearch.space.configs import TAILS

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


def _positive_int(value: Any) -> str | None:
    return None if _is_int(value) and value > 0 else "must be a positive integer"


def _positive_number(value: Any) -> str | None:
    """A positive finite number, or None (no limit)."""
    if value is None:
        return None
    ok = (_is_int(value) or isinstance(value, float)) and math.isfinite(value) and value > 0
    return None if ok else "must be a positive number"


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a text"


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _one_of(options: tuple[str, ...]) -> Rule:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}"

    return check


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
        "activation": _one_of(ACTIVATIONS),
        "stem_kernel": _int(1, 11),
        "stem_stride": _int(1, 4),
        "stem_pool": _bool,
        "stem_convs": _int(1, 2),
        "block": _one_of(BLOCKS),
        "hidden_ratio": _float(0.0, 1.0, low_open=True, high_open=False),
        "shortcut": _bool,
        "c3k": _bool,
        "down": _one_of(DOWNS),
        "tail": _one_of(TAILS),
        "tail_depth": _int(1, 8),
        "head": _one_of(HEADS),
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
    "study": {
        "n_trials": _positive_int,
        "sampler": _one_of(SAMPLERS),
        "timeout": _positive_number,
        "baseline_first": _bool,
    },
    "measure": {"ort_threads": _int(1, 256)},
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
