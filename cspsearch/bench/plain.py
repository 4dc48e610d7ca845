"""The references: a plain PyTorch loop and a plain Optuna script, as a user would write them, to
time ours against.

``plain_optuna_study`` is the script: one process with torch's default threads, an in-memory
study with Optuna's default TPE, ``trial.suggest_*`` over the same space (through
cspsearch.space.sampling, so the choices are the space file's), the project's model builder, one
fvcore count of MACs per trial (over the budget: pruned, not trained) and ``plain_loop``.

Default ``DataLoader`` settings (host tensors, one process, shuffled batches), NCHW, fp32 (or,
to compare like with like where bf16 is native, PyTorch's mixed-precision recipe: the forward
pass and loss under ``torch.autocast`` in bf16, backward and update outside it), the same model,
epochs, batch size, AdamW and learning-rate schedule as cspsearch's trainer, validation accuracy
after every epoch and test accuracy at the end, ``loss.item()`` per step for a running loss.
Nothing in it is slowed on purpose."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import replace

import optuna
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.data import TensorDataset

from cspsearch.classification.data import Dataset
from cspsearch.classification.data import load_dataset
from cspsearch.models import build_model
from cspsearch.space.configs import TrainConfig
from cspsearch.space.sampling import sample_config
from cspsearch.space.searchspace import SearchSpace
from cspsearch.training.loop import lr_factor
from cspsearch.training.precision import autocast


def _loader(x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool) -> DataLoader:
    return DataLoader(TensorDataset(x.cpu(), y.cpu()), batch_size=batch_size, shuffle=shuffle)


@torch.no_grad()
def _accuracy(model: nn.Module, loader: DataLoader, device: str, precision: str) -> float:
    model.eval()
    correct = total = 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        with autocast(device, precision):
            logits = model(x)
        correct += (logits.argmax(1) == y).sum().item()
        total += len(y)
    return correct / max(1, total)


def plain_loop(
    model: nn.Module, data: Dataset, cfg: TrainConfig, device: str, precision: str = "fp32"
) -> dict:
    """Train ``model`` (on ``device``) the plain way in ``precision`` (fp32 or bf16); its time
    and accuracies."""
    start = time.perf_counter()
    train = _loader(data.train_x, data.train_y, cfg.batch_size, shuffle=True)
    val = _loader(data.val_x, data.val_y, cfg.batch_size, shuffle=False)
    test = _loader(data.test_x, data.test_y, cfg.batch_size, shuffle=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    total = cfg.epochs * math.ceil(len(data.train_x) / cfg.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, cfg.warmup_fraction)
    )
    val_accuracy = []
    for _ in range(cfg.epochs):
        model.train()
        running = 0.0
        for x, y in train:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            with autocast(device, precision):
                loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            schedule.step()
            running += loss.item()
        val_accuracy.append(_accuracy(model, val, device, precision))
    test_accuracy = _accuracy(model, test, device, precision)
    return {
        "time_s": time.perf_counter() - start,
        "val_accuracy": val_accuracy[-1],
        "test_accuracy": test_accuracy,
    }


def plain_optuna_study(
    space: SearchSpace,
    n_trials: int,
    device: str,
    precision: str = "fp32",
    replay: list[dict] | None = None,
) -> dict:
    """Run the plain script for ``n_trials`` trials in ``precision``; its wall time (data
    loading included) and how many trials it trained. With ``replay`` (trials' parameters) it
    trains exactly those, in order, one trial each (enqueued: ``trial.suggest_*`` returns them)."""
    from fvcore.nn import FlopCountAnalysis

    start = time.perf_counter()
    data = load_dataset(space.data, device)
    budget = space.budget.get("macs")

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        model_cfg, train_cfg = sample_config(space, trial)
        model_cfg = replace(model_cfg, in_chans=data.in_chans, num_classes=data.num_classes)
        torch.manual_seed(train_cfg.seed)
        model = build_model(model_cfg)
        size = space.data.input_size
        flops = FlopCountAnalysis(model.eval(), torch.zeros(1, data.in_chans, size, size))
        macs = flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False).total()
        if budget is not None and macs > budget:
            raise optuna.TrialPruned()
        result = plain_loop(model.train().to(device), data, train_cfg, device, precision)
        return result["val_accuracy"], macs

    study = optuna.create_study(
        directions=["maximize", "minimize"], sampler=optuna.samplers.TPESampler(seed=0)
    )
    for params in replay or []:
        study.enqueue_trial(params)
    study.optimize(objective, n_trials=len(replay) if replay is not None else n_trials)
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return {
        "wall_s": time.perf_counter() - start,
        "trials": len(study.trials),
        "trained": len(done),
        "mean_macs_trained": statistics.fmean(t.values[1] for t in done) if done else None,
    }
