"""Reads a COCO-format detection folder (images + one json) into resized numpy arrays.

Every image is stretched to ``input_size``×``input_size`` RGB and its boxes scaled with it;
categories are renumbered 0..C−1 in the order of their COCO ids. Any problem with the files
raises DataError in one line naming the file, the field and the bad value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from cspsearch.errors import DataError


@dataclass(frozen=True)
class CocoData:
    images: np.ndarray  # uint8 (N, S, S, 3), every image stretched to input_size², RGB
    boxes: tuple[np.ndarray, ...]  # per image float32 (k, 4): x1, y1, x2, y2 in resized pixels
    labels: tuple[np.ndarray, ...]  # per image int64 (k,): contiguous class index 0..C−1
    class_names: tuple[str, ...]
    category_ids: tuple[int, ...]  # contiguous index → original COCO category id
    image_ids: np.ndarray  # int64 (N,): original COCO image ids, in the json's order


def read_coco(path: str | Path, input_size: int) -> CocoData:
    """Read a COCO folder (holding ``annotations.json`` or exactly one ``*.json``) or json file.

    Each image's ``file_name`` is looked up relative to the json's folder, then to its
    ``images/`` sub-folder. Crowd annotations and boxes under 1 pixel wide or high (after
    resizing) are skipped; images without annotations are kept, with empty arrays.
    """
    source = _json_path(Path(path))
    coco = _load_json(source)
    names, category_ids = _categories(coco["categories"], source)
    index_of = {cid: i for i, cid in enumerate(category_ids)}
    entries = _images(coco["images"], source)
    row_of = {image_id: row for row, (image_id, _) in enumerate(entries)}
    pixels, scales = [], []
    for image_id, file_name in entries:
        picture, scale = _read_image(source, image_id, file_name, input_size)
        pixels.append(picture)
        scales.append(scale)
    boxes: list[list] = [[] for _ in entries]
    labels: list[list] = [[] for _ in entries]
    for i, ann in enumerate(coco["annotations"]):
        where = f"{source}: annotations[{i}]"
        row, label, xywh = _annotation(ann, where, row_of, index_of)
        if row is None:
            continue
        sx, sy = scales[row]
        x1, y1 = max(0.0, xywh[0] * sx), max(0.0, xywh[1] * sy)
        x2 = min(float(input_size), (xywh[0] + xywh[2]) * sx)
        y2 = min(float(input_size), (xywh[1] + xywh[3]) * sy)
        if x2 - x1 >= 1 and y2 - y1 >= 1:
            boxes[row].append((x1, y1, x2, y2))
            labels[row].append(label)
    return CocoData(
        images=np.stack(pixels) if pixels else np.zeros((0, input_size, input_size, 3), np.uint8),
        boxes=tuple(np.asarray(b, np.float32).reshape(-1, 4) for b in boxes),
        labels=tuple(np.asarray(lab, np.int64) for lab in labels),
        class_names=names,
        category_ids=category_ids,
        image_ids=np.asarray([image_id for image_id, _ in entries], np.int64),
    )


def ground_truth(data: CocoData, indices: Sequence[int]) -> dict[str, Any]:
    """COCO ground truth (a dict for pycocotools) of the images ``data.images[indices]``.

    Id conventions, shared with the detections a decoder emits for the same subset:
    image id = position in ``indices`` (0..len−1), category id = contiguous class index + 1,
    boxes [x, y, w, h] in resized pixels, every image ``input_size`` wide and high.
    """
    size = int(data.images.shape[1])
    images, annotations = [], []
    for position, index in enumerate(indices):
        images.append({"id": position, "width": size, "height": size})
        for box, label in zip(data.boxes[index], data.labels[index]):
            x1, y1, x2, y2 = (float(v) for v in box)
            annotations.append(
                {
                    "id": len(annotations) + 1,  # from 1: COCOeval reads id 0 as "unmatched"
                    "image_id": position,
                    "category_id": int(label) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(data.class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def _json_path(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder (expected a COCO json or its folder)")
    if (path / "annotations.json").is_file():
        return path / "annotations.json"
    found = sorted(path.glob("*.json"))
    if len(found) != 1:
        listed = ", ".join(p.name for p in found) or "none"
        raise DataError(
            f"{path}: expected annotations.json or exactly one *.json (found {listed})"
        )
    return found[0]


def _load_json(source: Path) -> dict:
    try:
        coco = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{source}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{source}: not valid JSON ({exc})") from None
    if not isinstance(coco, dict):
        raise DataError(f"{source}: top level is {type(coco).__name__}, expected an object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key), list):
            raise DataError(f"{source}: {key}: {_short(coco.get(key))} (expected a list)")
    return coco


def _categories(entries: list, source: Path) -> tuple[tuple[str, ...], tuple[int, ...]]:
    found: dict[int, str] = {}
    for i, cat in enumerate(entries):
        cid = _field(cat, "id", int, f"{source}: categories[{i}]")
        if cid in found:
            raise DataError(f"{source}: categories[{i}].id: {cid} appears twice")
        found[cid] = str(_field(cat, "name", str, f"{source}: categories[{i}]"))
    if not found:
        raise DataError(f"{source}: categories: [] (expected at least one category)")
    ids = tuple(sorted(found))
    return tuple(found[cid] for cid in ids), ids


def _images(entries: list, source: Path) -> list[tuple[int, str]]:
    out, seen = [], set()
    for i, image in enumerate(entries):
        image_id = _field(image, "id", int, f"{source}: images[{i}]")
        if image_id in seen:
            raise DataError(f"{source}: images[{i}].id: {image_id} appears twice")
        seen.add(image_id)
        out.append((image_id, _field(image, "file_name", str, f"{source}: images[{i}]")))
    return out


def _read_image(
    source: Path, image_id: int, file_name: str, size: int
) -> tuple[np.ndarray, tuple[float, float]]:
    """The image resized to size² RGB, and the x and y factors that scale its boxes."""
    folder = source.parent
    path = next(
        (p for p in (folder / file_name, folder / "images" / file_name) if p.is_file()), None
    )
    if path is None:
        raise DataError(
            f"{source}: image {image_id}: file_name {file_name!r} not found in {folder} "
            f"or {folder / 'images'}"
        )
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            picture = opened.convert("RGB").resize((size, size), Image.BILINEAR)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot open image {image_id} ({exc})") from None
    return np.asarray(picture, dtype=np.uint8), (size / width, size / height)


def _annotation(
    ann: Any, where: str, row_of: dict[int, int], index_of: dict[int, int]
) -> tuple[int | None, int, list[float]]:
    """(image row or None when skipped, class index, bbox x, y, w, h in original pixels)."""
    image_id = _field(ann, "image_id", int, where)
    category_id = _field(ann, "category_id", int, where)
    if image_id not in row_of:
        raise DataError(f"{where}.image_id: {image_id} is not an image id")
    if category_id not in index_of:
        raise DataError(f"{where}.category_id: {category_id} is not a category id")
    bbox = ann.get("bbox")
    numbers = isinstance(bbox, list) and len(bbox) == 4
    if not numbers or not all(_is_number(v) and math.isfinite(v) for v in bbox):
        raise DataError(f"{where}.bbox: {_short(bbox)} (expected 4 finite numbers x, y, w, h)")
    if ann.get("iscrowd"):
        return None, 0, []
    return row_of[image_id], index_of[category_id], [float(v) for v in bbox]


def _field(entry: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(entry, dict):
        raise DataError(f"{where}: {_short(entry)} (expected an object)")
    value = entry.get(key)
    ok = (
        _is_number(value) and float(value).is_integer() if kind is int else isinstance(value, kind)
    )
    if not ok:
        raise DataError(f"{where}.{key}: {_short(value)} (expected {kind.__name__})")
    return int(value) if kind is int else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any) -> str:
    text = "missing" if value is None else json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."
