"""Inference latency of a model on its device: the median of repeated timed runs after warm-up,
in eval mode, at batch size 1 and 32 (milliseconds per batch)."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

BATCH_SIZES = (1, 32)


@torch.no_grad()
def measure_latency(
    model: nn.Module,
    input_size: int,
    in_chans: int,
    device: str,
    repeats: int = 7,
    budget_s: float = 3.0,
) -> dict[str, float]:
    """``{"latency": ms at batch 1, "latency_b32": ms per batch of 32}`` on ``device``.

    One warm-up run, then up to ``repeats`` timed runs; past ``budget_s`` seconds per batch
    size it stops after three (large models on a CPU).
    """
    was_training = model.training
    model.eval()
    cuda = str(device).startswith("cuda")
    out = {}
    try:
        for batch in BATCH_SIZES:
            x = torch.zeros(batch, in_chans, input_size, input_size, device=device)
            model(x)  # warm-up: allocations, kernel selection
            times: list[float] = []
            while len(times) < repeats and (len(times) < 3 or sum(times) < 1000 * budget_s):
                if cuda:
                    torch.cuda.synchronize(device)  # time the kernels, not their queueing
                start = time.perf_counter()
                model(x)
                if cuda:
                    torch.cuda.synchronize(device)
                times.append(1000 * (time.perf_counter() - start))
            out["latency" if batch == 1 else f"latency_b{batch}"] = statistics.median(times)
    finally:
        model.train(was_training)
    return out
