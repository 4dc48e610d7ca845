"""Brief training of one model on tensors already on the device (no Optuna here).

One function, read top to bottom: seed → optimiser → per epoch (shuffle, steps with a warm-up +
cosine learning rate, BatchNorm re-estimation, validation) → test accuracy of the final model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer

from cspsearch.configs import TrainConfig
from cspsearch.data import Dataset
from cspsearch.data import augment
from cspsearch.errors import TrainDiverged
from cspsearch.errors import TrialTimeout
from cspsearch.precision import autocast
from cspsearch.precision import resolve_precision
from cspsearch.precision import training_precision

# (epoch index, validation accuracy) → a true value stops training after this epoch (early
# stopping); None or False goes on.
EpochCallback = Callable[[int, float], bool | None]


@dataclass(frozen=True)
class TrainResult:
    val_accuracy: list[float]  # one per epoch; the last one is the trial's score
    train_loss: list[float]  # mean training loss per epoch
    test_accuracy: float  # the final model on the held-out test split
    train_time_s: float  # wall time of the whole function
    step_time_s: float = 0.0  # of which optimisation steps (forward, backward, update)
    precision: str = "fp32"  # what ran: fp32 or bf16 (autocast)


def get_lr(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 0 at ``total`` steps."""
    warmup = max(1, int(cfg.warmup_fraction * total))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module, x: torch.Tensor, batch_size: int = 256, precision: str = "fp32"
) -> None:
    """Re-estimate BatchNorm running statistics as a plain average over ``x`` ("precise BN")."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # None: cumulative average over the batches below
    model.train()
    with autocast(x.device, precision):  # BatchNorm itself stays fp32 under autocast
        for i in range(0, len(x), batch_size):
            model(x[i : i + batch_size])
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


@torch.no_grad()
def accuracy(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int = 512,
    precision: str = "fp32",
) -> float:
    """Top-1 accuracy of ``model`` on (x, y); toggles eval mode itself."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=x.device)
    with autocast(x.device, precision):
        for i in range(0, len(x), batch_size):
            correct += (model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum()
    model.train()
    return correct.item() / max(1, len(x))  # .item() syncs with the device: once per call


def make_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> Optimizer:
    """AdamW; fused (one kernel for every parameter) on CUDA, where per-tensor launches would
    dominate small models; on the CPU the default multi-tensor version measured as fast."""
    fused = device.type == "cuda"
    return torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused or None
    )


def train_briefly(
    model: nn.Module,
    data: Dataset,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    deadline: float | None = None,
) -> TrainResult:
    """Train ``model`` (already on the data's device) for ``cfg.epochs`` epochs, or until
    ``on_epoch`` returns a true value; in ``cfg.precision`` (see cspsearch/precision.py).

    ``deadline`` is a ``time.perf_counter()`` value; passing it raises TrialTimeout.
    """
    start = time.perf_counter()
    device = data.train_x.device
    precision = resolve_precision(device, cfg.precision)
    generator = torch.Generator().manual_seed(cfg.seed)  # batch order, on the host
    optimizer = make_optimizer(model, cfg, device)
    val_accuracy, train_loss, step_time = [], [], 0.0
    with training_precision(model, device, precision):
        for epoch in range(cfg.epochs):
            began = time.perf_counter()
            loss_sum = _epoch(model, optimizer, data, cfg, epoch, generator, deadline)
            train_loss.append(loss_sum.item() / len(data.train_x))  # the epoch's one sync
            step_time += time.perf_counter() - began
            if not math.isfinite(train_loss[-1]):
                raise TrainDiverged(f"training loss became {train_loss[-1]} in epoch {epoch + 1}")
            if cfg.precise_bn:
                recalibrate_bn(model, data.train_x[: cfg.precise_bn], precision=precision)
            val_accuracy.append(accuracy(model, data.val_x, data.val_y, precision=precision))
            if on_epoch is not None and on_epoch(epoch, val_accuracy[-1]):
                break  # stopped early: the result holds the epochs trained so far
        test_accuracy = accuracy(model, data.test_x, data.test_y, precision=precision)
    elapsed = time.perf_counter() - start
    return TrainResult(val_accuracy, train_loss, test_accuracy, elapsed, step_time, precision)


def _epoch(
    model: nn.Module,
    optimizer: Optimizer,
    data: Dataset,
    cfg: TrainConfig,
    epoch: int,
    generator: torch.Generator,
    deadline: float | None,
) -> torch.Tensor:
    """One epoch of steps in a fresh random order; the summed loss, still on the device."""
    n, device = len(data.train_x), data.train_x.device
    precision = resolve_precision(device, cfg.precision)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total, step = cfg.epochs * steps_per_epoch, epoch * steps_per_epoch
    order = torch.randperm(n, generator=generator).to(device)
    loss_sum = torch.zeros((), device=device)  # summed on the device: no per-step sync
    for i in range(0, n, cfg.batch_size):
        for group in optimizer.param_groups:
            group["lr"] = get_lr(step, total, cfg)
        idx = order[i : i + cfg.batch_size]
        x = augment(data.train_x[idx], generator) if data.augment else data.train_x[idx]
        with autocast(device, precision):
            loss = F.cross_entropy(model(x), data.train_y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(idx)
        step += 1
        if deadline is not None and time.perf_counter() > deadline:
            raise TrialTimeout(f"the trial's time ran out in epoch {epoch + 1}, step {step}")
    return loss_sum
