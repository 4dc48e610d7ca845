"""Datasets as normalised tensors on the training device, with a fixed stratified split.

Readers live in readers.py. The whole dataset is kept on the device, so a training step never
copies from the host; augmentation (when the space asks for it) runs there too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cspsearch.classification.readers import read
from cspsearch.space.configs import DataConfig


@dataclass(frozen=True)
class Dataset:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    in_chans: int
    augment: bool = False


def load_dataset(cfg: DataConfig, device: str = "cpu") -> Dataset:
    """The dataset ``cfg`` names, split and normalised, on ``device`` (cached per process)."""
    return _load(cfg, str(device))


def _tensor(images: np.ndarray, size: int) -> torch.Tensor:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = x / 255.0 if images.dtype == np.uint8 else x
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x


@functools.lru_cache(maxsize=4)
def _load(cfg: DataConfig, device: str) -> Dataset:
    raw = read(cfg.dataset, cfg.path, cfg.input_size)
    images, labels = _tensor(raw.images, cfg.input_size), torch.from_numpy(raw.labels)
    if raw.test_images is not None:  # keep the official test split; validation from training
        fraction = cfg.val_fraction / (1 - cfg.test_fraction)
        train, val, _ = split_indices(raw.labels, fraction, 0.0, cfg.split_seed)
        test_x, test_y = (
            _tensor(raw.test_images, cfg.input_size),
            torch.from_numpy(raw.test_labels),
        )
    else:
        train, val, test = split_indices(
            raw.labels, cfg.val_fraction, cfg.test_fraction, cfg.split_seed
        )
        test_x, test_y = images[test], labels[test]
    # Normalise each channel with the training split's statistics only.
    mean = images[train].mean(dim=(0, 2, 3), keepdim=True)
    std = images[train].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)

    def put(x: torch.Tensor) -> torch.Tensor:
        return ((x - mean) / std).to(device)

    return Dataset(
        put(images[train]),
        labels[train].to(device),
        put(images[val]),
        labels[val].to(device),
        put(test_x),
        test_y.to(device),
        raw.num_classes,
        images.shape[1],
        cfg.augment,
    )


def split_indices(
    labels: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stratified train/validation/test split of ``range(len(labels))``, fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_val, n_test = round(len(idx) * val_fraction), round(len(idx) * test_fraction)
        parts[1].append(idx[:n_val])
        parts[2].append(idx[n_val : n_val + n_test])
        parts[0].append(idx[n_val + n_test :])
    return tuple(np.sort(np.concatenate(p)) for p in parts)  # type: ignore[return-value]


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random crop from 4-pixel reflect padding (one offset per batch) and a horizontal flip
    per image; on the batch's device, random numbers from ``generator`` (host)."""
    dy, dx = torch.randint(0, 9, (2,), generator=generator).tolist()
    h, w = x.shape[-2:]
    x = F.pad(x, (4, 4, 4, 4), mode="reflect")[..., dy : dy + h, dx : dx + w]
    flip = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)
