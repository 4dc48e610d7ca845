"""COCO box AP of detections against ground truth, by pycocotools' COCOeval, in memory.

Both sides are plain COCO dicts (see cspsearch.detection.coco.ground_truth for the id
conventions); nothing is written to disk and pycocotools' printing is silenced.
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

# COCOeval.stats positions (maxDets 100) under the names a trial records.
STATS = {"ap": 0, "ap50": 1, "ap75": 2, "ap_small": 3, "ap_medium": 4, "ap_large": 5}


def coco_ap(ground_truth: dict[str, Any], detections: list[dict[str, Any]]) -> dict[str, float]:
    """COCO AP (IoU 0.5:0.95), AP50, AP75 and AP by object size, as Python floats.

    Args:
        ground_truth: a COCO dict with ``images``, ``annotations`` and ``categories``.
        detections: ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` each, with
            ids from ``ground_truth``; an empty list scores 0.

    Returns:
        ``ap``, ``ap50``, ``ap75``, ``ap_small``, ``ap_medium``, ``ap_large``. A value is NaN
        when the ground truth holds no box it could be measured on (COCOeval's −1), e.g.
        ``ap_large`` (area > 96²) on 64-pixel images; ``ap`` and ``ap50`` are numbers whenever
        there is at least one ground-truth box.
    """
    truth = _coco(ground_truth)
    known = set(truth.getImgIds())
    unknown = {d["image_id"] for d in detections} - known
    if unknown:
        raise ValueError(
            f"detections name image ids not in the ground truth: {sorted(unknown)[:5]}"
        )
    results = _coco(
        {
            "images": ground_truth["images"],
            "categories": ground_truth["categories"],
            "annotations": [_result(i + 1, d) for i, d in enumerate(detections)],
        }
    )
    evaluator = COCOeval(truth, results, iouType="bbox")
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: _value(evaluator.stats[i]) for name, i in STATS.items()}


def _coco(dataset: dict[str, Any]) -> COCO:
    """A COCO index over an in-memory dict (COCO(path) would read a file)."""
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _result(ann_id: int, detection: dict[str, Any]) -> dict[str, Any]:
    """A detection as COCO.loadRes would store it (which fails on an empty list)."""
    x, y, w, h = (float(v) for v in detection["bbox"])
    return {
        "id": ann_id,  # from 1, as loadRes numbers them
        "image_id": detection["image_id"],
        "category_id": detection["category_id"],
        "bbox": [x, y, w, h],
        "area": w * h,
        "score": float(detection["score"]),
        "iscrowd": 0,
    }


def _value(stat: float) -> float:
    return math.nan if stat < 0 else float(stat)
