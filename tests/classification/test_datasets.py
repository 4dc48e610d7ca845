"""User datasets in their real file formats, made small by the tests: CIFAR-10/100 python
pickles and an image folder of PNG files; each trains end to end through the CLI."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cspsearch.classification.data import augment
from cspsearch.classification.readers import read
from cspsearch.cli import app
from cspsearch.errors import DataError
from tests.conftest import TINY_SPACE
from tests.conftest import write_space

runner = CliRunner()


def images_for(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """32×32 RGB images whose colour depends on the class (so there is something to learn)."""
    base = (labels[:, None] * 37 % 256).astype(np.uint8)
    noise = rng.integers(0, 40, size=(len(labels), 3072), dtype=np.uint8)
    return np.repeat(base, 3072, axis=1) // 2 + noise


def make_cifar10(folder: Path, per_batch: int = 30) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, per_batch)
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels.tolist(),
            b"data": images_for(labels, rng),
            b"filenames": [b"x.png"] * per_batch,
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    return folder


def make_cifar100(folder: Path, n: int = 200) -> Path:
    rng = np.random.default_rng(1)
    folder.mkdir()
    for name, count in (("train", n), ("test", n // 4)):
        fine = rng.integers(0, 100, count)
        batch = {
            b"fine_labels": fine.tolist(),
            b"coarse_labels": (fine // 5).tolist(),
            b"data": images_for(fine, rng),
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    return folder


def make_imagefolder(folder: Path, per_class: int = 12) -> Path:
    for index, (name, colour) in enumerate(
        {"cat": (200, 40, 40), "dog": (40, 200, 40), "fox": (40, 40, 200)}.items()
    ):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            size = (20 + i, 24)  # sizes differ: every image is resized
            Image.new("RGB", size, tuple(c + 3 * i for c in colour)).save(
                folder / name / f"{index}_{i}.png"
            )
    return folder


def test_digits_read_from_the_bundled_file_as_load_digits_reads_it(monkeypatch) -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    direct = read("digits", "", 16)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)  # the fallback
    fallback = read("digits", "", 16)
    for raw in (direct, fallback):
        assert raw.images.shape == (1797, 8, 8, 1) and raw.images.dtype == np.float32
        assert np.array_equal(raw.images[..., 0] * 16, digits.images)
        assert np.array_equal(raw.labels, digits.target) and raw.num_classes == 10


def test_digits_are_read_without_importing_sklearn() -> None:
    code = (
        "import sys; from cspsearch.classification.readers import read; "
        "read('digits', '', 16); print(any(m.startswith('sklearn') for m in sys.modules))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "False"


def test_cifar10_keeps_its_official_test_split(tmp_path: Path) -> None:
    raw = read("cifar10", str(make_cifar10(tmp_path / "c10")), 32)
    assert raw.images.shape == (150, 32, 32, 3) and raw.num_classes == 10
    assert raw.test_images is not None and len(raw.test_images) == 30


def test_cifar100_reads_fine_labels(tmp_path: Path) -> None:
    raw = read("cifar100", str(make_cifar100(tmp_path / "c100")), 32)
    assert raw.num_classes == 100 and raw.labels.max() < 100 and len(raw.test_labels) == 50


def test_imagefolder_classes_in_name_order(tmp_path: Path) -> None:
    raw = read("imagefolder", str(make_imagefolder(tmp_path / "img")), 16)
    assert raw.images.shape == (36, 16, 16, 3) and raw.num_classes == 3
    assert raw.labels.tolist() == [0] * 12 + [1] * 12 + [2] * 12


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cifar10", "cifar100", "imagefolder"])
def test_user_dataset_trains_end_to_end(kind: str, tmp_path: Path, storage_url: str) -> None:
    maker = {"cifar10": make_cifar10, "cifar100": make_cifar100, "imagefolder": make_imagefolder}
    folder = maker[kind](tmp_path / kind)
    space = write_space(
        tmp_path,
        TINY_SPACE.replace("  input_size: 8", "  input_size: 16\n  augment: true"),
        "user",
    )
    result = runner.invoke(
        app,
        [
            "run",
            "--space",
            str(space),
            "--storage",
            storage_url,
            "--n-trials",
            "1",
            "--data",
            f"{kind}:{folder}",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    trial = optuna.load_study(study_name=f"user-data{kind}", storage=storage_url).trials[0]
    assert trial.state.name == "COMPLETE" and trial.user_attrs["trained"]
    assert trial.user_attrs["config"]["model"]["in_chans"] == 3


BAD_DATA = [
    ("cifar10", lambda d: (make_cifar10(d), (d / "data_batch_3").unlink()), "no data_batch_3"),
    (
        "cifar10",
        lambda d: (make_cifar10(d), (d / "test_batch").write_bytes(b"\x00garbage")),
        "not a CIFAR pickle",
    ),
    (
        "imagefolder",
        lambda d: (make_imagefolder(d), (d / "cat" / "bad.png").write_text("x")),
        "not a readable image",
    ),
    ("imagefolder", lambda d: (d / "only").mkdir(parents=True), "needs one sub-folder per class"),
    ("cifar100", lambda d: None, "no such folder"),
]


@pytest.mark.parametrize(("kind", "damage", "message"), BAD_DATA)
def test_missing_or_corrupt_data_is_one_line_exit_2(
    kind: str, damage, message: str, tmp_path: Path, storage_url: str
) -> None:
    damage(tmp_path / "data")
    result = runner.invoke(
        app,
        [
            "run",
            "--space",
            "csp_darknet",
            "--storage",
            storage_url,
            "--data",
            f"{kind}:{tmp_path / 'data'}",
        ],
    )
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "studies.db").exists()  # nothing written
    with pytest.raises(DataError):
        read(kind, str(tmp_path / "data"), 16)


def test_augment_crops_and_flips_on_the_device() -> None:
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    out = augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert torch.equal(out, augment(x, torch.Generator().manual_seed(0)))  # seeded
    assert not torch.equal(out, x)
