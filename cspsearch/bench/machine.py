"""What the machine can do, measured in the benchmark's own run: dense GEMM FLOP/s per dtype,
GPU utilisation sampled in the background, and a profile of one training step."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def gemm_size(device: str, precision: str, size: int, seconds: float) -> int:
    """The largest power-of-two size up to ``size`` whose product takes at most a quarter of
    ``seconds``, from a timed product at 256 (an emulated dtype can run at 1 GFLOP/s, where
    one 2048² product takes 15 s)."""
    dtype, probe = DTYPES[precision], min(size, 256)
    a = torch.randn(probe, probe, device=device).to(dtype)
    a @ a  # warm-up
    _sync(device)
    start = time.perf_counter()
    a @ a
    _sync(device)
    rate = 2 * probe**3 / max(1e-9, time.perf_counter() - start)
    fits = (rate * seconds / 4 / 2) ** (1 / 3)
    while size > 128 and size > fits:
        size //= 2
    return size


def gemm_flops(device: str, precision: str, size: int = 2048, seconds: float = 1.5) -> float:
    """Dense matmul FLOP/s (2·n³ per product) in ``precision`` on ``device`` at ``size``, or
    smaller where that would not fit in ``seconds`` (``gemm_size``): the median of timed
    batches after a warm-up, so one descheduled batch does not count."""
    dtype = DTYPES[precision]
    size = gemm_size(device, precision, size, seconds)
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    a @ b  # warm-up: oneDNN/cuBLAS pick their kernels
    _sync(device)
    reps = 4 if device == "cpu" else 50
    rates, spent = [], 0.0
    while spent < seconds or len(rates) < 5:
        start = time.perf_counter()
        for _ in range(reps):
            a @ b
        _sync(device)
        took = time.perf_counter() - start
        spent += took
        rates.append(reps * 2 * size**3 / took)
        if spent > 4 * seconds:  # a loaded machine: enough batches for a median
            break
    return statistics.median(rates)


class GpuSampler:
    """Samples GPU utilisation (%) every ``interval`` seconds while in a ``with`` block; on a
    machine without CUDA it samples nothing and ``mean`` is ``"n/a"``."""

    def __init__(self, device: str, interval: float = 0.5) -> None:
        self.cuda = device.startswith("cuda") and torch.cuda.is_available()
        self.index = (torch.device(device).index or 0) if self.cuda else 0
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._read = self._reader()

    def _reader(self) -> Callable[[], float | None] | None:
        if not self.cuda:
            return None
        try:
            torch.cuda.utilization(self.index)  # needs pynvml / amdsmi
            return lambda: float(torch.cuda.utilization(self.index))
        except Exception:  # noqa: BLE001 (no NVML binding: fall back to nvidia-smi)
            smi = shutil.which("nvidia-smi")
            if smi is None:
                return None
            query = [smi, f"--id={self.index}", "--query-gpu=utilization.gpu"]
            query.append("--format=csv,noheader,nounits")
            return lambda: float(subprocess.run(query, capture_output=True, text=True).stdout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.samples.append(self._read())  # type: ignore[misc]
            except (ValueError, OSError, RuntimeError):
                continue

    def __enter__(self) -> GpuSampler:
        if self._read is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def mean(self) -> float | str:
        return round(statistics.fmean(self.samples), 1) if self.samples else "n/a"


def profile_step(step: Callable[[], None], steps: int = 10) -> dict[str, float]:
    """Share of CPU time per operator group over ``steps`` calls of ``step`` (after warm-up),
    from torch.profiler: where a training step's time goes."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile

    for _ in range(3):
        step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    groups = {
        "convolution_backward": ("convolution_backward",),
        "convolution": ("mkldnn_convolution", "cudnn_convolution", "_convolution"),
        "batch_norm": ("batch_norm",),
        "optimizer": ("Optimizer.", "_foreach_", "_fused_adam"),
        "pool_and_concat": ("pool", "aten::cat"),
    }
    totals = dict.fromkeys([*groups, "other"], 0.0)
    events = prof.key_averages()
    for e in events:
        name = e.key
        group = next((g for g, keys in groups.items() if any(k in name for k in keys)), "other")
        totals[group] += e.self_cpu_time_total
    whole = sum(totals.values()) or 1.0
    return {g: round(t / whole, 3) for g, t in totals.items()}
