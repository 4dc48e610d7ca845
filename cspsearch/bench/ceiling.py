"""The most that parallel workers can give over a plain script, from optimisation steps alone.

On a CPU with N cores a plain script trains one network at a time with torch's N threads
(NCHW); cspsearch runs N single-threaded workers (channels_last where that measured faster:
cspsearch/training/precision.py). For the same architectures, this times one fp32 training step
both ways in the same run: the plain step, and the step of N forked single-threaded processes
stepping at the same moment (they share memory bandwidth and caches, as real workers do).
N × plain step ÷ worker step is what parallel workers give at equal precision from optimisation
steps alone: evaluation, harness, the plain script's DataLoader and the samplers' choices are not
in it (study.py measures whole studies, which can land a little either side of it).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F

from cspsearch.classification.data import Dataset
from cspsearch.models import build_model
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import TrainConfig
from cspsearch.training.loop import make_optimizer
from cspsearch.training.precision import use_channels_last
from cspsearch.trials.workers import can_fork
from cspsearch.trials.workers import cores

WARMUP, STEPS = 3, 20


def step_ms(
    config: ModelConfig, train: TrainConfig, x: torch.Tensor, y: torch.Tensor, channels_last: bool
) -> float:
    """Mean time of one fp32 step of a fresh ``config`` network (the trainer's optimiser) on one
    batch, in ms."""
    torch.manual_seed(0)
    model = build_model(config)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, train, torch.device("cpu"))

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(WARMUP):
        step()
    start = time.perf_counter()
    for _ in range(STEPS):
        step()
    return (time.perf_counter() - start) / STEPS * 1000


def parallel_step_ms(
    config: ModelConfig, train: TrainConfig, x: torch.Tensor, y: torch.Tensor, workers: int
) -> float:
    """Mean step time of ``workers`` forked single-threaded processes stepping at once."""
    context = multiprocessing.get_context("fork")
    results, start = context.Queue(), context.Barrier(workers)
    channels_last = use_channels_last("cpu", "fp32")

    def child() -> None:
        torch.set_num_threads(1)  # before any torch work (cspsearch/trials/workers.py says why)
        start.wait()
        results.put(step_ms(config, train, x, y, channels_last))

    procs = [context.Process(target=child) for _ in range(workers)]
    for p in procs:
        p.start()
    times = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join()
    return statistics.fmean(times)


def measure(
    configs: list[tuple[ModelConfig, TrainConfig, int]], data: Dataset, device: str
) -> dict[str, Any]:
    """``study_speedup_ceiling`` (the median over ``configs``) and each architecture's steps."""
    workers = cores()
    if device != "cpu" or not can_fork("cpu", workers):
        return {"study_speedup_ceiling": f"n/a (measured for forked CPU workers; {device})"}
    rows = []
    for model_cfg, train_cfg, _ in configs:
        x, y = data.train_x[: train_cfg.batch_size], data.train_y[: train_cfg.batch_size]
        # plain, ours, ours, plain: a drift in the machine's speed cancels (bench/study.py)
        first = step_ms(model_cfg, train_cfg, x, y, channels_last=False)  # torch's threads
        ours = statistics.fmean(
            parallel_step_ms(model_cfg, train_cfg, x, y, workers) for _ in range(2)
        )
        plain = (first + step_ms(model_cfg, train_cfg, x, y, channels_last=False)) / 2
        rows.append(
            {"plain_step_ms": plain, "worker_step_ms": ours, "ceiling": workers * plain / ours}
        )
    return {
        "study_speedup_ceiling": statistics.median(r["ceiling"] for r in rows),
        "ceiling_steps": {
            "workers": workers,
            "threads_plain": torch.get_num_threads(),
            "architectures": rows,
        },
    }
