"""The shapes generator: deterministic, valid COCO, objects at three pyramid levels, atomic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO
from typer.testing import CliRunner

from cspsearch.cli import app
from cspsearch.detection import shapes
from cspsearch.detection.shapes import CLASSES
from cspsearch.detection.shapes import default_shapes
from cspsearch.detection.shapes import make_shapes
from cspsearch.errors import DataError


def test_same_seed_same_json_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first = make_shapes(tmp_path / "a", images=6, size=64, seed=3).read_bytes()
    again = make_shapes(tmp_path / "b", images=6, size=64, seed=3).read_bytes()
    other = make_shapes(tmp_path / "c", images=6, size=64, seed=4).read_bytes()
    assert first == again
    assert first != other


def test_objects_per_image_and_sizes_span_three_levels(shapes_json: Path) -> None:
    coco = json.loads(shapes_json.read_text(encoding="utf-8"))
    per_image = np.bincount([a["image_id"] for a in coco["annotations"]], minlength=60)
    # 1..5 objects each, about 3 on average.
    assert per_image.min() >= 1 and per_image.max() <= 5
    assert 2.0 <= per_image.mean() <= 4.0
    sides = np.sqrt([a["bbox"][2] * a["bbox"][3] for a in coco["annotations"]])
    levels = [(sides < 12).sum(), ((sides >= 12) & (sides <= 24)).sum(), (sides > 24).sum()]
    assert all(n > 0 for n in levels), levels
    assert {a["category_id"] for a in coco["annotations"]} == {1, 2, 3, 4}


def test_json_loads_in_pycocotools_and_images_exist(shapes_json: Path) -> None:
    coco = COCO(str(shapes_json))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES)
    assert len(coco.getImgIds()) == 60
    for image in coco.loadImgs(coco.getImgIds()[:5]):
        with Image.open(shapes_json.parent / image["file_name"]) as opened:
            assert opened.size == (64, 64) and opened.mode == "RGB"
    for ann in coco.loadAnns(coco.getAnnIds()):
        x, y, w, h = ann["bbox"]
        # Boxes are tight pixel boxes inside the image.
        assert x >= 0 and y >= 0 and x + w <= 64 and y + h <= 64 and w >= 1 and h >= 1
        assert ann["iscrowd"] == 0 and ann["area"] == w * h


def test_boxes_are_tight_around_what_differs_from_the_background(shapes_json: Path) -> None:
    coco = json.loads(shapes_json.read_text(encoding="utf-8"))
    squares = [a for a in coco["annotations"] if a["category_id"] == 2]
    ann = max(squares, key=lambda a: a["area"])  # mostly its own colour inside its box
    image = next(i for i in coco["images"] if i["id"] == ann["image_id"])
    with Image.open(shapes_json.parent / image["file_name"]) as opened:
        pixels = np.asarray(opened, dtype=np.float64)
    x, y, w, h = (int(v) for v in ann["bbox"])
    inside = pixels[y : y + h, x : x + w].reshape(-1, 3)
    # The object's colour (the most common one inside its box, ± noise) reaches every side.
    colour = np.median(inside, axis=0)
    near = np.linalg.norm(pixels[y : y + h, x : x + w] - colour, axis=-1) < 40
    assert near[0].any() and near[-1].any() and near[:, 0].any() and near[:, -1].any()


def test_refuses_a_non_empty_folder_and_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(DataError, match="taken"):
        make_shapes(out, images=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (out / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_a_lost_rename_keeps_the_winner_and_cleans_up(tmp_path: Path) -> None:
    winner = make_shapes(tmp_path / "data", images=2, size=32, seed=0)
    before = winner.read_bytes()
    with pytest.raises(OSError):
        shapes._write_atomically(tmp_path / "data", 3, 32, 1)
    assert winner.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no temp folder left


def test_default_shapes_is_generated_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSPSEARCH_CACHE", str(tmp_path / "cache"))
    path = default_shapes(4, 32, 0)
    assert path.is_file() and path.parent.parent == tmp_path / "cache"
    stamp = path.stat().st_mtime_ns
    assert default_shapes(4, 32, 0) == path
    assert path.stat().st_mtime_ns == stamp  # reused, not rewritten
    assert default_shapes(4, 32, 1) != path


def test_cli_make_shapes_writes_then_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["data", "make-shapes", str(tmp_path / "out"), "--images", "3", "--size", "32"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "3 images" in result.stdout and len(result.stdout.splitlines()) == 1
    assert len(list((tmp_path / "out" / "images").iterdir())) == 3
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert again.stderr.startswith("error: ") and len(again.stderr.splitlines()) == 1
    assert "out" in again.stderr


def test_cli_make_shapes_rejects_a_size_out_of_range(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "make-shapes", str(tmp_path / "x"), "--size", "16"])
    assert result.exit_code == 2
    assert not (tmp_path / "x").exists()
