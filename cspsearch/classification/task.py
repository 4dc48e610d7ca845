"""The classification task: a CSP backbone with a linear head, cross-entropy, top-1 accuracy.

Registered as ``classification`` (cspsearch/training/task.py); the datasets are read by
readers.py and kept on the device by data.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import optuna
import torch
import torch.nn.functional as F
from torch import nn

from cspsearch.classification.data import Dataset
from cspsearch.classification.data import augment
from cspsearch.classification.data import load_dataset
from cspsearch.models import build_model
from cspsearch.space.configs import TrainConfig
from cspsearch.space.sampling import sample_config
from cspsearch.space.searchspace import SearchSpace
from cspsearch.training.loop import EpochCallback
from cspsearch.training.loop import TaskHooks
from cspsearch.training.loop import TrainResult
from cspsearch.training.loop import fit
from cspsearch.training.task import Arch
from cspsearch.training.task import Task
from cspsearch.training.task import register_task


@torch.no_grad()
def accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    precision: str = "fp32",
    batch_size: int = 512,
) -> float:
    """Top-1 accuracy of ``model`` on (x, y); toggles eval mode itself."""
    from cspsearch.training.precision import autocast

    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    with autocast(x.device, precision):
        for i in range(0, len(x), batch_size):
            correct += (model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum()
    model.train()
    return correct.item() / max(1, len(x))  # .item() syncs with the device: once per call


def classification_hooks(data: Dataset) -> TaskHooks:
    """Batches (augmented on the device when the space asks), cross-entropy, accuracy."""

    def batch(idx: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, Any]:
        x = data.train_x[idx]
        return (augment(x, generator) if data.augment else x), data.train_y[idx]

    def evaluate(model: nn.Module, split: str, precision: str) -> dict[str, float]:
        x, y = (data.val_x, data.val_y) if split == "val" else (data.test_x, data.test_y)
        return {"accuracy": accuracy(model, x, y, precision)}

    def loss(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs.float(), y)  # fp32 as autocast would compute it

    return TaskHooks(data.train_x, batch, loss, evaluate, "accuracy")


def train_briefly(
    model: nn.Module,
    data: Dataset,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    deadline: float | None = None,
) -> TrainResult:
    """Train a classifier on ``data`` with the one training loop (cspsearch/training/loop.py)."""
    return fit(model, classification_hooks(data), cfg, on_epoch, deadline)


@register_task
class Classification(Task):
    name = "classification"
    figures = ("accuracy",)

    def load_data(self, space: SearchSpace, device: str) -> Dataset:
        return load_dataset(space.data, device)

    def sample(self, space: SearchSpace, trial: optuna.Trial, data: Dataset) -> Arch:
        model_cfg, train_cfg = sample_config(space, trial)
        model_cfg = replace(model_cfg, in_chans=data.in_chans, num_classes=data.num_classes)
        return Arch(
            key=model_cfg,
            config={"model": model_cfg.to_dict()},
            train=train_cfg,
            build=lambda: build_model(model_cfg),
            input_size=space.data.input_size,
            in_chans=data.in_chans,
        )

    def hooks(self, model: nn.Module, data: Dataset, arch: Arch) -> TaskHooks:
        return classification_hooks(data)
