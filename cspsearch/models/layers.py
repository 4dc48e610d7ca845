"""The raw building blocks every family shares: conv + BN + activation, and the γ split."""

from __future__ import annotations

from torch import nn

from cspsearch.errors import BuildError


class ConvBnAct(nn.Sequential):
    """Convolution (no bias) → BatchNorm → ReLU; 'same' padding for odd kernels."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int = 1, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_chs),
            nn.ReLU(inplace=True),
        )


def split_channels(channels: int, split_ratio: float, divisor: int = 1) -> tuple[int, int]:
    """Split ``channels`` into (bypass, blocks) for the split ratio γ (DESIGN.md §2).

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
