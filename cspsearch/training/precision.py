"""Numeric precision of training and evaluation: fp32, or bf16 autocast where the device has it.

Shared by every trainer (classification, detection): ``resolve_precision`` turns the user's
``fp32|bf16|auto`` into what actually runs, ``autocast`` wraps forward passes and
``training_precision`` trains in channels_last where that measured faster (CUDA in bf16, CPUs
with AVX-512). bf16 autocast keeps the weights, the optimiser state and the loss reduction in
fp32 (only convolutions/matmuls run in bf16), so no loss scaling is needed, unlike fp16.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from cspsearch.errors import SpaceError
from cspsearch.space.configs import PRECISIONS

# CPU flags of native bf16 arithmetic; without them oneDNN emulates bf16 and it is slower.
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_has_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX-512 BF16 or AMX), read from the kernel's
    CPU flags; False where they cannot be read (then ``auto`` stays in fp32)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return any(f in flags.split() for f in _CPU_BF16_FLAGS)


def bf16_supported(device: str | torch.device) -> bool:
    """Whether bf16 autocast runs natively on ``device`` (``cpu``, ``cuda``, ``cuda:K``)."""
    kind = torch.device(device).type
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if kind == "cpu":
        return cpu_has_bf16() and torch.backends.mkldnn.is_available()
    return False


def resolve_precision(device: str | torch.device, precision: str) -> str:
    """``fp32`` or ``bf16``: what ``precision`` (fp32, bf16, auto) means on ``device``.

    ``auto`` is bf16 where the device computes it natively, else fp32. An explicit ``bf16`` is
    kept even without native support (autocast emulates it; slower, same numerics).
    """
    if precision not in PRECISIONS:
        raise SpaceError(f"precision: {precision!r} must be one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    return precision


def autocast(
    device: str | torch.device, precision: str, cache: bool = True
) -> contextlib.AbstractContextManager:
    """A context in which forward passes run in ``precision`` (resolved first) on ``device``;
    ``cache=False`` inside a CUDA graph capture (autocast's weight cache must be off there)."""
    resolved = resolve_precision(device, precision)
    if resolved == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, cache_enabled=cache)


@functools.cache
def cpu_has_avx512() -> bool:
    """True when PyTorch's CPU kernels run at the AVX-512 level on this machine."""
    return torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def use_channels_last(device: str | torch.device, precision: str) -> bool:
    """Whether to train in channels_last memory format.

    On CUDA, tensor cores want NHWC for convolutions in bf16. On a CPU with AVX-512, oneDNN's
    NHWC kernels skip the reorders to and from its blocked layout: measured 2026-11-29 on a
    2-core Xeon (AMX), one thread, the default space, a whole trial 1.16× faster in fp32 and
    1.23× in bf16, accuracy equal (a side-by-side script, not kept; ``cspsearch bench``'s
    ``speedup_vs_dataloader_fp32`` went from 0.95 to 1.24 on that machine with it). On an
    AVX2-only CPU (2-core AMD EPYC, 2026-11-25) it was no faster in either precision, so it
    stays off there.
    """
    kind = torch.device(device).type
    if kind == "cuda":
        return resolve_precision(device, precision) == "bf16"
    return kind == "cpu" and cpu_has_avx512() and torch.backends.mkldnn.is_available()


def to_channels_last(model: nn.Module, x: torch.Tensor | None = None) -> torch.Tensor | None:
    """Convert ``model`` in place (and return ``x``, if given) to channels_last; 4-D only."""
    model.to(memory_format=torch.channels_last)
    if x is not None and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


@contextlib.contextmanager
def training_precision(
    model: nn.Module, device: str | torch.device, precision: str
) -> Iterator[None]:
    """Put ``model`` in the memory format ``precision`` trains best in on ``device`` for the
    block, then back. Batches need no conversion: with channels_last weights, oneDNN and cuDNN
    produce channels_last outputs from the first convolution on."""
    channels_last = use_channels_last(device, precision)
    if channels_last:
        to_channels_last(model)
    try:
        yield
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
