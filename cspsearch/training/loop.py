"""The one brief-training loop of every task (no Optuna here).

Read top to bottom: optimiser and learning-rate schedule → per epoch (a fresh batch order, steps
in the trial's precision, a divergence check, precise BN, validation, the epoch callback that
may stop early) → the final model on the test split. A task supplies only what differs between
tasks, as ``TaskHooks``: its batches, its loss and its evaluation (cspsearch/training/task.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from fvcore.nn.precise_bn import update_bn_stats
from torch import nn
from torch.optim import Optimizer

from cspsearch.errors import TrainDiverged
from cspsearch.errors import TrialTimeout
from cspsearch.space.configs import TrainConfig
from cspsearch.training.graphs import graph_reason
from cspsearch.training.graphs import make_step
from cspsearch.training.graphs import set_lr
from cspsearch.training.precision import autocast
from cspsearch.training.precision import resolve_precision
from cspsearch.training.precision import training_precision

# (epoch index, validation score) → a true value stops training after this epoch (early
# stopping); None or False goes on.
EpochCallback = Callable[[int, float], bool | None]


@dataclass(frozen=True)
class TaskHooks:
    """What a task gives the loop; everything else is the same for every task."""

    train_x: torch.Tensor  # training images on the device (precise BN reads the first ones)
    batch: Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, Any]]  # idx → x, target
    loss: Callable[[Any, Any], torch.Tensor]  # (outputs, targets) → mean loss per image, fp32
    evaluate: Callable[[nn.Module, str, str], dict[str, float]]  # (model, val|test, precision)
    score: str  # the evaluation figure that is the trial's score: accuracy, ap50, …
    # (model, precision) → the per-epoch validation figures, when a cheaper figure than
    # ``evaluate`` serves there (detection: AP on the device); ``evaluate`` then scores the
    # final model on "val" once more, and that replaces the last epoch's figures.
    epoch_evaluate: Callable[[nn.Module, str], dict[str, float]] | None = None


@dataclass(frozen=True)
class TrainResult:
    # Validation figures per epoch; the last one's score counts. With an epoch_evaluate hook,
    # every epoch's but the last are that hook's, the last is ``evaluate``'s.
    val: list[dict[str, float]]
    train_loss: list[float]  # mean training loss per image, per epoch
    test: dict[str, float]  # the final model's figures on the held-out test split
    train_time_s: float  # wall time of the whole function
    step_time_s: float  # of which optimisation steps (forward, backward, update)
    precision: str  # what ran: fp32 or bf16 (autocast)
    graphed: bool = False  # the steps ran as a captured CUDA graph (graphs.py)
    graph_reason: str | None = None  # why not, when not

    def curve(self, figure: str) -> list[float]:
        """One validation figure per epoch."""
        return [v[figure] for v in self.val]


def lr_factor(step: int, total: int, warmup_fraction: float) -> float:
    """Linear warm-up, then cosine decay to 0 at ``total`` steps (a multiple of the peak lr)."""
    warmup = max(1, int(warmup_fraction * total))
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def make_optimizer(
    model: nn.Module, cfg: TrainConfig, device: torch.device, graphed: bool = False
) -> Optimizer:
    """AdamW; fused (one kernel for every parameter) on CUDA, where per-tensor launches would
    dominate small models. On the CPU the multi-tensor (foreach) version: PyTorch's CPU default
    is the per-tensor loop, and foreach gives the same weights to the bit (tested) in ~27% less
    optimiser time; fused would be faster still but changes the numbers (0.9 apart after 30
    steps of a csp_efm network), so a study would not repeat. For a captured step (graphs.py)
    also capturable, its learning rate a device tensor."""
    if graphed:
        lr = torch.tensor(cfg.lr, device=device)
        return torch.optim.AdamW(
            model.parameters(), lr=lr, weight_decay=cfg.weight_decay, fused=True, capturable=True
        )
    cuda = device.type == "cuda"
    return torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
        fused=True if cuda else None, foreach=None if cuda else True,
    )  # fmt: skip


@torch.no_grad()
def precise_bn(model: nn.Module, x: torch.Tensor, precision: str, batch_size: int = 256) -> None:
    """Re-estimate BatchNorm statistics as the true average over ``x`` (fvcore's precise BN):
    in runs of a few epochs the running averages lag the fast-moving weights."""
    batches = [x[i : i + batch_size] for i in range(0, len(x), batch_size)]
    model.train()
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    kept = [(m.running_mean, m.running_var) for m in norms]
    with autocast(x.device, precision):  # BatchNorm itself stays fp32 under autocast
        update_bn_stats(model, batches, num_iters=len(batches))
    # fvcore assigns new tensors; a captured step (graphs.py) updates the old ones in place,
    # so the estimates go back into those.
    for m, (mean, var) in zip(norms, kept):
        if mean is not None and m.running_mean is not mean:
            mean.copy_(m.running_mean)
            var.copy_(m.running_var)
            m.running_mean, m.running_var = mean, var


def fit(
    model: nn.Module,
    task: TaskHooks,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    deadline: float | None = None,
    cuda_graphs: bool = False,
) -> TrainResult:
    """Train ``model`` (already on the data's device) for ``cfg.epochs`` epochs, or until
    ``on_epoch`` returns a true value, in ``cfg.precision`` (cspsearch/training/precision.py).

    ``deadline`` is a ``time.perf_counter()`` value; passing it raises TrialTimeout.
    ``cuda_graphs``: on CUDA, each step as one captured graph (graphs.py; eager elsewhere, or
    when the capture fails; ``TrainResult.graphed`` says which ran).
    """
    start = time.perf_counter()
    device, n = task.train_x.device, len(task.train_x)
    precision = resolve_precision(device, cfg.precision)
    generator = torch.Generator().manual_seed(cfg.seed)  # batch order, on the host
    graphed = graph_reason(device, cuda_graphs) is None
    optimizer = make_optimizer(model, cfg, device, graphed)
    steps, done = cfg.epochs * math.ceil(n / cfg.batch_size), 0
    val, train_loss, step_time = [], [], 0.0
    with training_precision(model, device, precision):
        step = make_step(model, task.loss, optimizer, precision, device, cuda_graphs)
        for epoch in range(cfg.epochs):
            began = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=generator).to(device)
            loss_sum = torch.zeros((), device=device)  # summed on the device: no per-step sync
            for i in range(0, n, cfg.batch_size):
                idx = order[i : i + cfg.batch_size]
                x, target = task.batch(idx, generator)
                set_lr(optimizer, cfg.lr * lr_factor(done, steps, cfg.warmup_fraction))
                loss_sum += step(x, target) * len(idx)
                done += 1
                if deadline is not None and time.perf_counter() > deadline:
                    where = f"epoch {epoch + 1}, step {done}"
                    raise TrialTimeout(f"the trial's time ran out in {where}")
            train_loss.append(loss_sum.item() / n)  # the epoch's one sync with the device
            step_time += time.perf_counter() - began
            if not math.isfinite(train_loss[-1]):
                raise TrainDiverged(f"training loss became {train_loss[-1]} in epoch {epoch + 1}")
            if cfg.precise_bn:
                precise_bn(model, task.train_x[: cfg.precise_bn], precision)
            if task.epoch_evaluate is not None:
                val.append(task.epoch_evaluate(model, precision))
            else:
                val.append(task.evaluate(model, "val", precision))
            if on_epoch is not None and on_epoch(epoch, val[-1][task.score]):
                break  # stopped early: the result holds the epochs trained so far
        if task.epoch_evaluate is not None and val:  # the figures that count: the task's own
            val[-1] = task.evaluate(model, "val", precision)
        test = task.evaluate(model, "test", precision)
    elapsed = time.perf_counter() - start
    return TrainResult(
        val, train_loss, test, elapsed, step_time, precision, step.graphed, step.reason
    )
