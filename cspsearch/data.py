"""Datasets as tensors on the training device, with a fixed stratified split.

The bundled default is scikit-learn's handwritten digits (1,797 real 8×8 images shipped inside
scikit-learn, nothing downloaded), resized once to the space's input size. The whole dataset
is kept on the device, so a training step never copies from the host.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cspsearch.configs import DataConfig


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


def load_dataset(cfg: DataConfig, device: str = "cpu") -> Dataset:
    """The dataset ``cfg`` names, split and normalised, on ``device`` (cached per process)."""
    return _load(cfg, str(device))


@functools.lru_cache(maxsize=4)
def _load(cfg: DataConfig, device: str) -> Dataset:
    from sklearn.datasets import load_digits  # heavy import, only when data is needed

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    images = F.interpolate(images, size=cfg.input_size, mode="bilinear", align_corners=False)
    train, val, test = split_indices(
        labels.numpy(), cfg.val_fraction, cfg.test_fraction, cfg.split_seed
    )
    # Normalise with the training split's statistics only.
    mean, std = images[train].mean(), images[train].std()
    images = ((images - mean) / std).to(device)
    labels = labels.to(device)
    return Dataset(
        images[train],
        labels[train],
        images[val],
        labels[val],
        images[test],
        labels[test],
        num_classes=10,
        in_chans=1,
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
