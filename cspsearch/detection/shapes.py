"""A seeded generator of a small synthetic detection dataset, written in COCO format.

Filled shapes of four classes in random colours on cluttered backgrounds (a low-contrast
gradient, a smooth texture, noise, faint lines and blobs that belong to no class). Object sides
are log-uniform from 6/64 to 40/64 of the image, so boxes span the three pyramid levels of
strides 8/16/32. Later objects are drawn over earlier ones, but a placement is rejected if it
would hide half of an earlier object or its box overlaps one by IoU > 0.4.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from PIL import ImageDraw

from cspsearch.errors import DataError

CLASSES = ("circle", "square", "triangle", "cross")
VERSION = 2  # bump whenever the generator's output changes: it names the cache folder
SIDES = (8 / 64, 40 / 64)  # object side range, as a fraction of the image size
MAX_IOU = 0.4  # box overlap above which a placement is rejected (NMS would merge them)
MIN_VISIBLE = 0.5  # every object keeps at least this fraction of its pixels visible
MIN_CONTRAST = 120.0  # RGB distance between an object's colour and the background's mean


def make_shapes(out_dir: str | Path, images: int = 800, size: int = 64, seed: int = 0) -> Path:
    """Write ``images`` PNGs (``size``×``size``, RGB) and their COCO json to ``out_dir``.

    The folder is built beside ``out_dir`` and renamed into place, so it is never half
    written. Raises DataError if ``out_dir`` exists and is not empty. Returns the json path
    (``out_dir/annotations.json``; each image's ``file_name`` is ``images/NNNNNN.png``).
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: exists and is not empty (choose a new folder)")
    try:
        _write_atomically(out, images, size, seed)
    except OSError as exc:
        if out.is_dir() and (out / "annotations.json").is_file():  # another process won
            raise DataError(f"{out}: was written meanwhile by another process") from None
        raise DataError(f"{out}: cannot write the dataset ({exc.strerror or exc})") from None
    return out / "annotations.json"


def default_shapes(images: int, size: int, seed: int) -> Path:
    """The shapes dataset with these parameters, generated once into the cache and reused.

    The cache is ``$CSPSEARCH_CACHE`` or ``~/.cache/cspsearch``. Two processes may race to
    generate it: each builds its own copy and the loser of the final rename uses the winner's.
    """
    root = Path(os.environ.get("CSPSEARCH_CACHE") or Path.home() / ".cache" / "cspsearch")
    folder = root / f"shapes-v{VERSION}-n{images}-s{size}-seed{seed}"
    found = folder / "annotations.json"
    if found.is_file():
        return found
    try:
        _write_atomically(folder, images, size, seed)
    except OSError as exc:
        if not found.is_file():
            raise DataError(
                f"{folder}: cannot write the dataset ({exc.strerror or exc})"
            ) from None
    return found


def _write_atomically(out: Path, images: int, size: int, seed: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "images").mkdir()
        coco = _coco_header(images, size, seed)
        for index in range(images):
            # One generator per image: image i is the same whatever the number of images.
            rng = np.random.default_rng((seed, index))
            pixels, boxes, labels = _draw_image(rng, size)
            name = f"images/{index:06d}.png"
            Image.fromarray(pixels).save(tmp / name)
            coco["images"].append({"id": index, "file_name": name, "width": size, "height": size})
            for box, label in zip(boxes, labels):
                coco["annotations"].append(
                    _annotation(len(coco["annotations"]) + 1, index, box, label)
                )
        (tmp / "annotations.json").write_text(json.dumps(coco, indent=1), encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp's 0700 would keep the dataset private
        os.rename(tmp, out)  # atomic; fails if another process already filled ``out``
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _coco_header(images: int, size: int, seed: int) -> dict:
    # No date in ``info``: the same parameters must give byte-identical json.
    info = {"description": "cspsearch synthetic shapes", "version": str(VERSION)}
    info.update(images=images, size=size, seed=seed)
    cats = [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CLASSES)]
    return {"info": info, "images": [], "annotations": [], "categories": cats}


def _annotation(ann_id: int, image_id: int, box: tuple[int, ...], label: int) -> dict:
    x, y, w, h = (float(v) for v in box)
    # Ids from 1: COCOeval treats a matched annotation id 0 as unmatched.
    ann = {"id": ann_id, "image_id": image_id, "category_id": label + 1, "bbox": [x, y, w, h]}
    return {**ann, "area": w * h, "iscrowd": 0}


def _draw_image(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list, list]:
    """One image (uint8, size×size×3), its boxes (x, y, w, h in pixels) and class indices."""
    background = _background(rng, size)
    mean = background.reshape(-1, 3).mean(axis=0)
    owner = np.full((size, size), -1)  # index of the object that shows at each pixel
    full_areas: list[int] = []
    labels: list[int] = []
    placed_boxes: list[tuple[int, int, int, int]] = []
    for _ in range(rng.integers(1, 6)):  # 1..5 objects, 3 on average
        for _attempt in range(20):
            label = int(rng.integers(len(CLASSES)))
            mask, box = _shape_mask(rng, size, label)
            if _fits(mask, box, owner, full_areas, placed_boxes):
                owner[mask] = len(labels)
                full_areas.append(int(mask.sum()))
                labels.append(label)
                placed_boxes.append(box)
                break
    pixels = background
    for index in range(len(labels)):
        pixels[owner == index] = _object_colour(rng, mean)
    pixels += rng.normal(0.0, 6.0, pixels.shape)
    boxes = [_tight_box(owner == index) for index in range(len(labels))]
    return np.clip(pixels, 0, 255).astype(np.uint8), boxes, labels


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Float (size, size, 3): gradient + smooth texture + faint lines and blobs (no class)."""
    start = rng.uniform(50, 205) + rng.uniform(-20, 20, 3)
    end = start + rng.uniform(-35, 35, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    t = (np.cos(angle) * xx + np.sin(angle) * yy + 1.5) / 3.0  # in [0, 1]
    canvas = start + t[..., None] * (end - start)
    coarse = rng.normal(0.0, 12.0, (4, 4)).astype(np.float32)
    texture = np.asarray(Image.fromarray(coarse, "F").resize((size, size), Image.BILINEAR))
    canvas = np.clip(canvas + texture[..., None], 0, 255)
    image = Image.fromarray(canvas.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    base = canvas.reshape(-1, 3).mean(axis=0)
    for _ in range(rng.integers(1, 5)):
        ends = [float(v) for v in rng.uniform(-0.2, 1.2, 4) * size]
        draw.line(ends, fill=_faint(rng, base), width=max(1, size // 64))
    for _ in range(rng.integers(0, 3)):
        draw.polygon(_blob(rng, size), fill=_faint(rng, base))
    return np.asarray(image, dtype=np.float64).copy()


def _faint(rng: np.random.Generator, base: np.ndarray) -> tuple[int, ...]:
    """A colour close to the background's (distance ≤ ~35): clutter, never an object."""
    return tuple(int(v) for v in np.clip(base + rng.uniform(-20, 20, 3), 0, 255))


def _blob(rng: np.random.Generator, size: int) -> list[tuple[float, float]]:
    """An irregular polygon (jagged radii), unlike any class."""
    centre = rng.uniform(0, size, 2)
    radius = rng.uniform(0.06, 0.25) * size
    angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
    radii = radius * rng.uniform(0.3, 1.0, 9)
    return [
        (float(centre[0] + r * np.cos(a)), float(centre[1] + r * np.sin(a)))
        for a, r in zip(angles, radii)
    ]


def _shape_mask(rng: np.random.Generator, size: int, label: int) -> tuple[np.ndarray, tuple]:
    """A boolean mask of one shape of class ``label`` inside the image, and its drawn box."""
    low, high = (side * size for side in SIDES)
    side = np.exp(rng.uniform(np.log(low), np.log(high)))
    aspect = np.exp(rng.uniform(-0.2, 0.2))
    w = max(3, round(side * np.sqrt(aspect)))
    h = max(3, round(side / np.sqrt(aspect)))
    x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
    right, bottom = x + w - 1, y + h - 1
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    name = CLASSES[label]
    if name == "circle":
        draw.ellipse((x, y, right, bottom), fill=255)
    elif name == "square":
        draw.rectangle((x, y, right, bottom), fill=255)
    elif name == "triangle":
        draw.polygon(_triangle(rng, x, y, right, bottom), fill=255)
    else:  # cross: a plus sign, arms a third of the side thick
        thick = max(1, round(min(w, h) / 3))
        cx, cy = x + (w - thick) // 2, y + (h - thick) // 2
        draw.rectangle((cx, y, cx + thick - 1, bottom), fill=255)
        draw.rectangle((x, cy, right, cy + thick - 1), fill=255)
    mask = np.asarray(image) > 0
    return mask, _tight_box(mask)


def _triangle(rng: np.random.Generator, x: int, y: int, right: int, bottom: int) -> list:
    """An isosceles triangle filling the box, pointing up, down, left or right."""
    mx, my = (x + right) / 2, (y + bottom) / 2
    corners = (
        [(x, bottom), (right, bottom), (mx, y)],
        [(x, y), (right, y), (mx, bottom)],
        [(right, y), (right, bottom), (x, my)],
        [(x, y), (x, bottom), (right, my)],
    )
    return corners[int(rng.integers(4))]


def _fits(mask: np.ndarray, box: tuple, owner: np.ndarray, areas: list, boxes: list) -> bool:
    """Whether a new shape on top leaves every earlier one visible enough and apart enough."""
    if not areas:
        return True
    if max(_iou(box, other) for other in boxes) > MAX_IOU:
        return False
    shown = np.bincount(owner[owner >= 0], minlength=len(areas))
    hidden = np.bincount(owner[mask & (owner >= 0)], minlength=len(areas))
    return bool(np.all(shown - hidden >= MIN_VISIBLE * np.asarray(areas)))


def _iou(a: tuple, b: tuple) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """x, y, w, h of the pixels set in ``mask`` (pixel j covers [j, j + 1))."""
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def _object_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    """A random colour far enough from the background's mean to stay easy to see."""
    for _ in range(50):
        colour = rng.uniform(0, 255, 3)
        if np.linalg.norm(colour - background) >= MIN_CONTRAST:
            return colour
    return 255.0 - background
