"""Optuna trial → (ModelConfig, TrainConfig[, DetectorConfig]): the only module that calls
``trial.suggest_*``."""

from __future__ import annotations

from typing import Any

import optuna

from cspsearch.space.blocks import draw_order
from cspsearch.space.blocks import unfused_as_default
from cspsearch.space.blocks import untaken_as_default
from cspsearch.space.configs import BLOCK_ONLY
from cspsearch.space.configs import DetectorConfig
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import TrainConfig
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import Range
from cspsearch.space.searchspace import SearchSpace


def sample_config(space: SearchSpace, trial: optuna.Trial) -> tuple[ModelConfig, TrainConfig]:
    """Draw one architecture and training setting from ``space``.

    ``fusion`` is drawn before ``split_ratio``: a stage with fusion ``none`` has no split, so its
    γ is not suggested (a conditional parameter) and keeps the config's default. ``block`` is
    drawn first: a key the stage's block does not take (fusion for c2f, hidden_ratio for csp;
    cspsearch/space/blocks.py) is not suggested either.
    """
    model: dict[str, Any] = {}
    for key in sorted(space.model, key=draw_order):  # block first, split_ratio last
        value = space.model[key]
        if key in BLOCK_ONLY:
            value = untaken_as_default(key, value, model.get("block", ModelConfig.block))
        if key == "split_ratio":
            fusion = model.get("fusion", ModelConfig.fusion)
            value = unfused_as_default(
                value, fusion, model.get("num_stages", ModelConfig.num_stages)
            )
        model[key] = _suggest(trial, key, value)
    train = {key: _suggest(trial, key, value) for key, value in space.train.items()}
    return ModelConfig(**model), TrainConfig(**train)


def sample_detector(space: SearchSpace, trial: optuna.Trial) -> DetectorConfig:
    """Draw the neck and head; ``maxout_size`` is only suggested when Maxout is on."""
    out: dict[str, Any] = {}
    for key in sorted(space.detector, key=lambda k: k == "maxout_size"):  # maxout_size last
        if key == "maxout_size" and not out.get("maxout", DetectorConfig.maxout):
            continue  # conditional, like split_ratio: no Maxout, no group size
        out[key] = _suggest(trial, key, space.detector[key])
    return DetectorConfig(**out)


def _suggest(trial: optuna.Trial, name: str, value: Any) -> Any:
    if isinstance(value, tuple):  # one value per stage: parameters name_0, name_1, ...
        return tuple(_suggest(trial, f"{name}_{i}", v) for i, v in enumerate(value))
    if isinstance(value, Choice):
        return trial.suggest_categorical(name, list(value.choices))
    if isinstance(value, Range):
        if value.is_int:
            return trial.suggest_int(
                name, value.low, value.high, step=value.step or 1, log=value.log
            )
        return trial.suggest_float(name, value.low, value.high, step=value.step, log=value.log)
    return value
