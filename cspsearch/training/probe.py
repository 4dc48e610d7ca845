"""The probe behind ``--trials-per-device auto`` on CUDA: one network of the space (its baseline
point where it has one) trained for a few steps as a trial trains it, measuring how busy that
keeps the GPU and the memory it takes. ``auto_trials_per_device`` (device.py) turns that into K.

Busy fraction: the summed time of the GPU's kernels and copies (torch.profiler's device
events) over the wall time of the same steps. That is the share of time the GPU has work from
one trial; the rest is host time (launches, Python) that further trials can fill.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from cspsearch.space.searchspace import SearchSpace


@dataclass(frozen=True)
class Probe:
    """One trial's use of a GPU, and what the GPU has."""

    busy_fraction: float  # kernel time / wall time over the probed steps
    trial_bytes: int  # peak memory allocated by the probed trial
    free_bytes: int  # free GPU memory before the probe
    gpus: int  # GPUs the workers spread over


def probe_trial(
    space: SearchSpace, device: str, gpus: int, cuda_graphs: bool = True, steps: int = 20
) -> Probe:
    """Train one network of ``space`` for ``steps`` measured steps on ``device`` (CUDA)."""
    dev = torch.device(device)
    if dev.type != "cuda":
        raise ValueError(f"the probe needs a CUDA device, not {device}")
    free_bytes = torch.cuda.mem_get_info(dev)[0]
    torch.cuda.reset_peak_memory_stats(dev)
    with trial_step(space, device, cuda_graphs) as step:
        busy = _busy_fraction(step, dev, steps)
    peak = torch.cuda.max_memory_allocated(dev)
    torch.cuda.empty_cache()  # the probe's memory goes back before the workers start
    return Probe(busy, peak, free_bytes, gpus)


@contextmanager
def trial_step(space: SearchSpace, device: str, cuda_graphs: bool) -> Iterator[Callable[[], Any]]:
    """One training step of the space's first network on one batch, as ``fit`` builds it
    (precision, memory format, optimiser, captured or eager step), as a call without
    arguments; valid inside the block."""
    from cspsearch.training.graphs import make_step
    from cspsearch.training.loop import make_optimizer
    from cspsearch.training.precision import resolve_precision
    from cspsearch.training.precision import training_precision

    dev = torch.device(device)
    model, hooks, cfg = _network(space, device)
    precision = resolve_precision(dev, cfg.precision)
    optimizer = make_optimizer(model, cfg, dev, cuda_graphs)
    idx = torch.arange(min(cfg.batch_size, len(hooks.train_x)), device=device)
    x, target = hooks.batch(idx, torch.Generator().manual_seed(0))
    with training_precision(model, dev, precision):
        step = make_step(model, hooks.loss, optimizer, precision, dev, cuda_graphs)
        yield lambda: step(x, target)


def _busy_fraction(step: Any, dev: torch.device, steps: int) -> float:
    """GPU kernel time over wall time of ``steps`` calls of ``step``, after a warm-up."""
    for _ in range(3):  # the capture and warm-up are not what a trial does most
        step()
    torch.cuda.synchronize(dev)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        began = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize(dev)
        wall_us = (time.perf_counter() - began) * 1e6
    busy_us = sum(
        e.time_range.elapsed_us()
        for e in prof.events()
        if e.device_type == torch.autograd.DeviceType.CUDA
    )
    if busy_us <= 0:
        raise RuntimeError("the profiler saw no GPU kernel")
    return min(1.0, busy_us / wall_us)


def _network(space: SearchSpace, device: str) -> tuple[Any, Any, Any]:
    """The space's first network (its baseline point, else a random one) on ``device``, its
    task's hooks on the dataset, and its training config."""
    import optuna

    from cspsearch.training.task import get_task

    task = get_task(space.task)
    data = task.load_data(space, device)  # cached: the trials use the same
    study = optuna.create_study()  # in memory: only to sample one network
    if space.baseline_params():
        study.enqueue_trial(space.baseline_params())
    arch = task.sample(space, study.ask(), data)
    torch.manual_seed(0)
    model = arch.build().to(device)
    return model, task.hooks(model, data, arch), arch.train
