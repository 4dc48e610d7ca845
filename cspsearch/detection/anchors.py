"""Anchor sizes from training boxes: k-means on (width, height) with 1 − IoU distance.

As in YOLOv2/v3: two sizes are compared as boxes sharing a centre, so the distance does not
favour large boxes the way a Euclidean one would. Anchors come back smallest first, so the
first third goes to the finest level (stride 8).
"""

from __future__ import annotations

import numpy as np

from cspsearch.errors import DataError


def kmeans_anchors(wh: np.ndarray, k: int = 9, seed: int = 0, iters: int = 100) -> np.ndarray:
    """``k`` anchor sizes (k, 2: width, height) clustered from box sizes ``wh`` (n, 2).

    Deterministic for a given ``seed`` (k-means++ seeding, then Lloyd steps with the median
    as centre). With fewer distinct sizes than ``k``, the anchors are area quantiles of the
    boxes instead (repeats allowed). Sorted by area, ascending. Raises DataError when there
    is no box of positive width and height.
    """
    sizes = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    sizes = sizes[np.all(np.isfinite(sizes) & (sizes > 0), axis=1)]
    if len(sizes) == 0:
        raise DataError("no training boxes to derive anchors from (every image is empty)")
    if len(np.unique(sizes, axis=0)) < k:
        return _by_area(_quantiles(sizes, k))
    rng = np.random.default_rng(seed)
    centres = _seed_centres(sizes, k, rng)
    assigned = None
    for _ in range(iters):
        nearest = wh_iou(sizes, centres).argmax(axis=1)
        if assigned is not None and np.array_equal(nearest, assigned):
            break
        assigned = nearest
        for c in range(k):
            members = sizes[assigned == c]
            if len(members):  # an empty cluster keeps its centre
                centres[c] = np.median(members, axis=0)
    return _by_area(centres)


def wh_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (len(a), len(b)) of boxes given only as sizes, as if they shared a centre."""
    inter = np.minimum(a[:, None, 0], b[None, :, 0]) * np.minimum(a[:, None, 1], b[None, :, 1])
    union = (a[:, 0] * a[:, 1])[:, None] + (b[:, 0] * b[:, 1])[None, :] - inter
    return inter / union


def _seed_centres(sizes: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++: each next centre drawn with probability ∝ its squared distance to the set."""
    centres = [sizes[rng.integers(len(sizes))]]
    for _ in range(1, k):
        distance = 1.0 - wh_iou(sizes, np.asarray(centres)).max(axis=1)
        weights = distance**2
        total = weights.sum()
        # All boxes already sit on a centre: any box will do (cannot happen with > k distinct).
        pick = rng.choice(len(sizes), p=weights / total) if total > 0 else rng.integers(len(sizes))
        centres.append(sizes[pick])
    return np.asarray(centres, dtype=np.float64)


def _quantiles(sizes: np.ndarray, k: int) -> np.ndarray:
    """k boxes at evenly spaced area quantiles (mid-points), repeats allowed."""
    ordered = sizes[np.argsort(sizes[:, 0] * sizes[:, 1], kind="stable")]
    picks = np.round((np.arange(k) + 0.5) / k * len(ordered) - 0.5).astype(int)
    return ordered[np.clip(picks, 0, len(ordered) - 1)].copy()


def _by_area(anchors: np.ndarray) -> np.ndarray:
    return anchors[np.argsort(anchors[:, 0] * anchors[:, 1], kind="stable")]
