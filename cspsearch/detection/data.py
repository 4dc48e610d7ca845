"""A detection dataset as tensors on the training device, with a fixed train/val/test split.

Images are normalised with the training split's statistics; boxes are padded to one tensor
(image, max boxes, 5: class, x1, y1, x2, y2 in input pixels; class −1 pads) so a batch is one
index. The validation and test splits also keep their COCO-format ground truth for COCOeval.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cspsearch.detection.anchors import kmeans_anchors
from cspsearch.detection.coco import CocoData
from cspsearch.detection.coco import ground_truth
from cspsearch.detection.coco import read_coco
from cspsearch.detection.shapes import default_shapes
from cspsearch.space.configs import DataConfig


@dataclass(frozen=True)
class DetectionSplit:
    x: torch.Tensor  # (n, channels, size, size), normalised
    targets: torch.Tensor  # (n, max boxes, 5)
    truth: dict[str, Any]  # COCO ground truth; image id = position in this split


@dataclass(frozen=True)
class DetectionDataset:
    train: DetectionSplit
    val: DetectionSplit
    test: DetectionSplit
    class_names: tuple[str, ...]
    anchors: tuple[tuple[float, float], ...]  # 9 (w, h) from the training boxes, by area
    in_chans: int
    input_size: int
    augment: bool

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def source_folder(cfg: DataConfig) -> Path:
    """The COCO folder ``cfg`` reads: its path, or the generated shapes dataset."""
    if cfg.dataset == "shapes" and not cfg.path:
        return default_shapes(cfg.images, cfg.input_size, seed=0)
    return Path(cfg.path)


def load_detection(cfg: DataConfig, device: str = "cpu") -> DetectionDataset:
    """The detection dataset ``cfg`` names, split and normalised, on ``device`` (cached)."""
    return _load(cfg, str(device))


@functools.lru_cache(maxsize=2)
def _load(cfg: DataConfig, device: str) -> DetectionDataset:
    data = read_coco(source_folder(cfg), cfg.input_size)
    order = np.random.default_rng(cfg.split_seed).permutation(len(data.images))
    n_val = max(1, round(cfg.val_fraction * len(order)))
    n_test = max(1, round(cfg.test_fraction * len(order)))
    parts = order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]
    images = torch.from_numpy(data.images).permute(0, 3, 1, 2).float() / 255.0
    train = images[parts[0]]
    mean = train.mean(dim=(0, 2, 3), keepdim=True)
    std = train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    most = max(1, max(len(b) for b in data.boxes))

    def split(indices: np.ndarray) -> DetectionSplit:
        x = ((images[indices] - mean) / std).to(device)
        return DetectionSplit(
            x, _targets(data, indices, most).to(device), ground_truth(data, indices.tolist())
        )

    # Anchors: k-means (1 − IoU) on the training boxes' sizes, three per level, fine first.
    sizes = np.concatenate([data.boxes[i][:, 2:] - data.boxes[i][:, :2] for i in parts[0]])
    anchors = kmeans_anchors(sizes, k=9, seed=0)
    return DetectionDataset(
        *(split(p) for p in parts),
        class_names=data.class_names,
        anchors=tuple((round(float(w), 2), round(float(h), 2)) for w, h in anchors),
        in_chans=images.shape[1],
        input_size=cfg.input_size,
        augment=cfg.augment,
    )


def _targets(data: CocoData, indices: np.ndarray, most: int) -> torch.Tensor:
    out = torch.full((len(indices), most, 5), -1.0)
    for row, i in enumerate(indices):
        k = len(data.labels[i])
        out[row, :k, 0] = torch.from_numpy(data.labels[i].astype(np.float32))
        out[row, :k, 1:] = torch.from_numpy(data.boxes[i].astype(np.float32))
    return out


def flip(x: torch.Tensor, targets: torch.Tensor, generator: torch.Generator) -> tuple:
    """Mirror a random half of the batch left–right, boxes included (on the device)."""
    chosen = (torch.rand(len(x), generator=generator) < 0.5).to(x.device)
    x = torch.where(chosen[:, None, None, None], x.flip(-1), x)
    width = x.shape[-1]
    mirrored = targets.clone()
    mirrored[..., 1], mirrored[..., 3] = width - targets[..., 3], width - targets[..., 1]
    keep = chosen[:, None, None] & (targets[..., :1] >= 0)
    return x, torch.where(keep, mirrored, targets)
