"""The raw building blocks every family shares: conv + BN + activation, and the γ split."""

from __future__ import annotations

from torch import nn

from cspsearch.errors import BuildError

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU, "mish": nn.Mish}


def get_activation(name: str | None) -> nn.Module:
    """A fresh activation module by name (None: identity, for linear convs)."""
    if name is None:
        return nn.Identity()
    if name not in ACTIVATIONS:
        raise BuildError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
    # In-place where the module supports it: the output replaces the input in memory.
    return ACTIVATIONS[name](inplace=True)


class ConvBnAct(nn.Sequential):
    """Convolution (no bias) → BatchNorm → activation; 'same' padding for odd kernels
    (``padding`` overrides it, e.g. YOLOv5's 6×6 stem convolution with padding 2)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        act: str | None = "relu",
        padding: int | None = None,
    ) -> None:
        pad = kernel_size // 2 if padding is None else padding
        super().__init__(
            nn.Conv2d(in_chs, out_chs, kernel_size, stride, pad, groups=groups, bias=False),
            nn.BatchNorm2d(out_chs),
            get_activation(act),
        )


def split_channels(channels: int, split_ratio: float, divisor: int = 1) -> tuple[int, int]:
    """Split ``channels`` into (bypass, blocks) for the split ratio γ
    (docs/conventions.md#split-ratio).

    ``bypass`` = γ · channels rounded to the nearest multiple of ``divisor``, then clamped so
    both parts keep at least ``divisor`` channels. Raises BuildError when that is impossible.
    """
    if channels < 2 * divisor:
        raise BuildError(
            f"cannot split {channels} channels with split_ratio {split_ratio}: both parts need "
            f"at least {divisor} channel(s)"
        )
    bypass = round(split_ratio * channels / divisor) * divisor
    bypass = min(max(bypass, divisor), channels - divisor)
    return bypass, channels - bypass
