"""Dataset readers: files → uint8 images (N, H, W, C) and integer labels, as numpy arrays.

- ``digits``: scikit-learn's handwritten digits (bundled; nothing downloaded).
- ``cifar10`` / ``cifar100``: a folder in the python-pickle layout (``data_batch_1`` … ``_5`` and
  ``test_batch``; ``train`` and ``test`` for CIFAR-100, fine labels); the official test split
  stays the test set.
- ``imagefolder``: one sub-folder per class of image files (Pillow), classes in name order.
A missing or unreadable dataset raises DataError naming the path and what was expected.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cspsearch.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


class Raw(NamedTuple):
    images: np.ndarray  # (N, H, W, C): uint8, or float32 in [0, 1] (digits)
    labels: np.ndarray  # (N,) int64
    num_classes: int
    test_images: np.ndarray | None = None  # an official test split, when the dataset has one
    test_labels: np.ndarray | None = None


def read(dataset: str, path: str, input_size: int) -> Raw:
    """Read ``dataset`` (from ``path`` where it needs one)."""
    if dataset == "digits":
        return _digits()
    if not path:
        raise DataError(
            f"data.path: '' — dataset {dataset} needs a folder (data.path or "
            f"--data {dataset}:PATH)"
        )
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"data.path: {path}: no such folder")
    if dataset in ("cifar10", "cifar100"):
        return _cifar(folder, dataset)
    return _imagefolder(folder, input_size)


def _digits() -> Raw:
    """scikit-learn's bundled ``digits.csv.gz`` (64 pixels 0–16, then the label, per row), read
    as ``load_digits`` reads it. Reading the file directly skips importing ``sklearn.datasets``
    (1.2 s measured, paid by every worker process) for a 10-ms read; ``load_digits`` is the
    fallback should a scikit-learn release move the file."""
    table = None
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    if spec is not None and spec.submodule_search_locations:
        path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz")
        if path.is_file():
            table = np.loadtxt(path, delimiter=",")
    if table is None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        table = np.column_stack([digits.data, digits.target])
    images = (table[:, :-1].reshape(-1, 8, 8) / 16.0).astype(np.float32)[..., None]  # in [0, 1]
    return Raw(images, table[:, -1].astype(np.int64), 10)


def _unpickle(path: Path) -> dict:
    if not path.is_file():
        raise DataError(
            f"data.path: {path.parent}: no {path.name} (expected the CIFAR python "
            "layout: data_batch_1..5 and test_batch, or train and test)"
        )
    try:
        with path.open("rb") as f:
            return pickle.load(f, encoding="bytes")  # noqa: S301 (the user's own dataset files)
    except Exception as exc:  # any unpickling failure means a corrupt file
        raise DataError(f"data.path: {path}: not a CIFAR pickle ({type(exc).__name__})") from None


def _cifar_arrays(batch: dict, key: bytes, path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[key], dtype=np.int64)
    except (KeyError, ValueError) as exc:
        raise DataError(f"data.path: {path}: not a CIFAR batch ({exc})") from None
    return data.transpose(0, 2, 3, 1), labels


def _cifar(folder: Path, dataset: str) -> Raw:
    if dataset == "cifar10":
        key, classes = b"labels", 10
        train_files, test_file = [folder / f"data_batch_{i}" for i in range(1, 6)], "test_batch"
    else:
        key, classes, train_files, test_file = b"fine_labels", 100, [folder / "train"], "test"
    parts = [_cifar_arrays(_unpickle(p), key, p) for p in train_files]
    test = _cifar_arrays(_unpickle(folder / test_file), key, folder / test_file)
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if labels.min() < 0 or max(labels.max(), test[1].max()) >= classes:
        raise DataError(f"data.path: {folder}: labels outside 0..{classes - 1}")
    return Raw(images, labels, classes, test[0], test[1])


def _imagefolder(folder: Path, input_size: int) -> Raw:
    from PIL import Image
    from PIL import UnidentifiedImageError

    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if len(classes) < 2:
        raise DataError(
            f"data.path: {folder}: needs one sub-folder per class (found {len(classes)})"
        )
    images, labels = [], []
    for index, name in enumerate(classes):
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"data.path: {folder / name}: no image files")
        for file in files:
            try:
                with Image.open(file) as image:
                    rgb = image.convert("RGB").resize((input_size, input_size), Image.BILINEAR)
            except (UnidentifiedImageError, OSError) as exc:
                raise DataError(f"data.path: {file}: not a readable image ({exc})") from None
            images.append(np.asarray(rgb, dtype=np.uint8))
            labels.append(index)
    return Raw(np.stack(images), np.asarray(labels, dtype=np.int64), len(classes))
