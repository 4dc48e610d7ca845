"""COCO AP by pycocotools: perfect detections score 1, worse ones less, none score 0."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cspsearch.detection.coco import ground_truth
from cspsearch.detection.coco import read_coco
from cspsearch.detection.evaluate import coco_ap


@pytest.fixture(scope="module")
def truth(shapes_json: Path) -> dict:
    data = read_coco(shapes_json, input_size=64)
    return ground_truth(data, list(range(20, 50)))


def _as_detections(truth: dict, shift: float = 0.0) -> list[dict]:
    return [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": [a["bbox"][0] + shift, a["bbox"][1] + shift, *a["bbox"][2:]],
            "score": 1.0,
        }
        for a in truth["annotations"]
    ]


def test_ground_truth_as_detections_scores_one(
    truth: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    scores = coco_ap(truth, _as_detections(truth))
    assert scores["ap"] == 1.0 and scores["ap50"] == 1.0 and scores["ap75"] == 1.0
    assert all(type(v) is float for v in scores.values())
    assert capsys.readouterr().out == ""  # pycocotools' printing is silenced


def test_shifted_boxes_score_lower(truth: dict) -> None:
    scores = coco_ap(truth, _as_detections(truth, shift=3.0))
    assert scores["ap"] < 0.5
    assert scores["ap50"] < 1.0


def test_wrong_class_scores_zero(truth: dict) -> None:
    wrong = [dict(d, category_id=d["category_id"] % 4 + 1) for d in _as_detections(truth)]
    assert coco_ap(truth, wrong)["ap50"] == 0.0


def test_no_detections_score_zero(truth: dict) -> None:
    scores = coco_ap(truth, [])
    assert scores["ap"] == 0.0 and scores["ap50"] == 0.0


def test_a_size_without_ground_truth_is_nan(truth: dict) -> None:
    # No box on a 64-pixel image is "large" (area > 96²): COCOeval's −1 becomes NaN.
    scores = coco_ap(truth, _as_detections(truth))
    assert math.isnan(scores["ap_large"])
    assert scores["ap_small"] == 1.0


def test_detections_on_unknown_images_are_refused(truth: dict) -> None:
    stray = {"image_id": 999, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}
    with pytest.raises(ValueError, match="999"):
        coco_ap(truth, [stray])
