"""The COCO reader: resized round trip, file-name lookup, skipped boxes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from cspsearch.detection.coco import ground_truth
from cspsearch.detection.coco import read_coco
from cspsearch.detection.shapes import CLASSES
from cspsearch.errors import DataError


def test_round_trip_scales_boxes_with_the_images(shapes_json: Path) -> None:
    coco = json.loads(shapes_json.read_text(encoding="utf-8"))
    data = read_coco(shapes_json.parent, input_size=32)
    assert data.images.shape == (60, 32, 32, 3) and data.images.dtype == np.uint8
    assert data.class_names == CLASSES and data.category_ids == (1, 2, 3, 4)
    assert data.image_ids.tolist() == [i["id"] for i in coco["images"]]
    for row, image_id in enumerate(data.image_ids):
        anns = [a for a in coco["annotations"] if a["image_id"] == image_id]
        # 64 → 32 pixels: every box halves; x, y, w, h → x1, y1, x2, y2.
        expected = [
            [x / 2, y / 2, (x + w) / 2, (y + h) / 2] for x, y, w, h in (a["bbox"] for a in anns)
        ]
        np.testing.assert_allclose(data.boxes[row], np.asarray(expected).reshape(-1, 4))
        assert data.labels[row].tolist() == [a["category_id"] - 1 for a in anns]
        assert data.boxes[row].dtype == np.float32 and data.labels[row].dtype == np.int64


def _folder(tmp_path: Path, annotations: list[dict], json_name: str = "train.json") -> Path:
    """A folder with a grey 40×20 image, an RGBA 10×10 one (bare file names under images/)."""
    (tmp_path / "images").mkdir()
    Image.new("L", (40, 20), 90).save(tmp_path / "images" / "wide.png")
    Image.new("RGBA", (10, 10), (1, 2, 3, 4)).save(tmp_path / "images" / "tiny.png")
    coco = {
        "images": [{"id": 7, "file_name": "wide.png"}, {"id": 9, "file_name": "tiny.png"}],
        "annotations": annotations,
        "categories": [{"id": 5, "name": "b"}, {"id": 2, "name": "a"}],
    }
    (tmp_path / json_name).write_text(json.dumps(coco), encoding="utf-8")
    return tmp_path


def _ann(image_id: int = 7, category_id: int = 5, bbox: object = (4, 2, 20, 10), **extra) -> dict:
    box = list(bbox) if isinstance(bbox, tuple) else bbox
    return {"id": 1, "image_id": image_id, "category_id": category_id, "bbox": box, **extra}


def test_stretches_any_image_mode_and_skips_crowd_and_tiny_boxes(tmp_path: Path) -> None:
    anns = [_ann(), _ann(bbox=(0, 0, 1, 1)), _ann(category_id=2, iscrowd=1), _ann(category_id=2)]
    data = read_coco(_folder(tmp_path, anns), input_size=32)
    assert data.images.shape == (2, 32, 32, 3)
    assert (data.images[0] == 90).all()  # grey → RGB
    # Categories in id order: id 2 "a" → 0, id 5 "b" → 1.
    assert data.class_names == ("a", "b") and data.category_ids == (2, 5)
    # x scales by 32/40, y by 32/20; the 1×1 box becomes 0.8 wide and is dropped, crowd too.
    np.testing.assert_allclose(data.boxes[0], [[3.2, 3.2, 19.2, 19.2]] * 2)
    assert data.labels[0].tolist() == [1, 0]
    # The image without annotations is kept, with empty arrays.
    assert data.boxes[1].shape == (0, 4) and data.labels[1].shape == (0,)


def test_file_names_relative_to_the_json_folder_also_work(shapes_json: Path) -> None:
    # The generator writes "images/000000.png"; a json file path is accepted too.
    assert read_coco(shapes_json, input_size=16).images.shape == (60, 16, 16, 3)


def test_boxes_are_clipped_to_the_image(tmp_path: Path) -> None:
    data = read_coco(_folder(tmp_path, [_ann(bbox=(-10, 5, 60, 10))]), input_size=40)
    np.testing.assert_allclose(data.boxes[0], [[0.0, 10.0, 40.0, 30.0]])


BAD = {
    "no images key": (lambda c: c.pop("images"), "images: missing"),
    "annotations not a list": (lambda c: c.update(annotations={}), "annotations: {}"),
    "unknown image": (lambda c: c["annotations"].append(_ann(image_id=3)), "image_id: 3"),
    "unknown category": (lambda c: c["annotations"].append(_ann(category_id=1)), "category_id: 1"),
    "short bbox": (lambda c: c["annotations"].append(_ann(bbox=(1, 2, 3))), "bbox: [1, 2, 3]"),
    "text bbox": (lambda c: c["annotations"].append(_ann(bbox="1234")), 'bbox: "1234"'),
    "missing file": (lambda c: c["images"].append({"id": 1, "file_name": "gone.png"}), "gone.png"),
    "id not int": (lambda c: c["images"][0].update(id="7"), 'images[0].id: "7"'),
    "duplicate category": (lambda c: c["categories"].append({"id": 5, "name": "c"}), "twice"),
    "no categories": (lambda c: c.update(categories=[]), "categories: []"),
    "top level list": (lambda c: [c.clear()], "top level"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_coco_raises_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    folder = _folder(tmp_path, [_ann()])
    coco = json.loads((folder / "train.json").read_text(encoding="utf-8"))
    change, expected = BAD[case]
    change(coco)
    body = [] if case == "top level list" else coco
    (folder / "train.json").write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(DataError) as raised:
        read_coco(folder, input_size=32)
    message = str(raised.value)
    assert "train.json" in message and expected in message and "\n" not in message


def test_unreadable_files_raise_data_error(tmp_path: Path) -> None:
    folder = _folder(tmp_path, [_ann()])
    (folder / "images" / "tiny.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="tiny.png"):
        read_coco(folder, 32)
    (folder / "train.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(DataError, match="train.json: not valid JSON"):
        read_coco(folder, 32)
    (folder / "other.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="other.json, train.json"):
        read_coco(folder, 32)  # two json files and no annotations.json: ambiguous
    with pytest.raises(DataError, match="nowhere"):
        read_coco(tmp_path / "nowhere", 32)


def test_ground_truth_numbers_images_by_position_and_classes_from_one(shapes_json: Path) -> None:
    data = read_coco(shapes_json, input_size=64)
    truth = ground_truth(data, [5, 2])
    assert [i["id"] for i in truth["images"]] == [0, 1]
    assert [c["id"] for c in truth["categories"]] == [1, 2, 3, 4]
    first = [a for a in truth["annotations"] if a["image_id"] == 0]
    x1, y1, x2, y2 = data.boxes[5][0]
    assert first[0]["bbox"] == pytest.approx([x1, y1, x2 - x1, y2 - y1])
    assert first[0]["category_id"] == data.labels[5][0] + 1
    assert len(truth["annotations"]) == len(data.boxes[5]) + len(data.boxes[2])
    assert min(a["id"] for a in truth["annotations"]) == 1
    coco = COCO()
    coco.dataset = truth
    coco.createIndex()  # loads in pycocotools
    assert len(coco.getAnnIds(imgIds=[1])) == len(data.boxes[2])
