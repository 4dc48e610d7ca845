"""Anchors by IoU k-means: k rows, smallest first, deterministic, finding real clusters."""

from __future__ import annotations

import numpy as np
import pytest

from cspsearch.detection.anchors import kmeans_anchors
from cspsearch.errors import DataError

CENTRES = np.array([[6.0, 6.0], [12.0, 24.0], [24.0, 12.0], [40.0, 40.0]])


def _clustered(per_cluster: int = 50, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([c * rng.uniform(0.95, 1.05, (per_cluster, 2)) for c in CENTRES])


def test_recovers_clusters_sorted_by_area() -> None:
    anchors = kmeans_anchors(_clustered(), k=4, seed=0)
    areas = anchors.prod(axis=1)
    assert anchors.shape == (4, 2) and np.all(np.diff(areas) >= 0)
    # The two mid clusters have equal areas: compare rows in (width, height) order.
    by_width = anchors[np.lexsort((anchors[:, 1], anchors[:, 0]))]
    np.testing.assert_allclose(by_width, CENTRES, rtol=0.02)  # medians, not one box


def test_nine_anchors_deterministic_and_finite() -> None:
    wh = np.random.default_rng(0).uniform(4, 40, (300, 2))
    first, again = kmeans_anchors(wh, seed=3), kmeans_anchors(wh, seed=3)
    assert first.shape == (9, 2) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, again)
    assert np.all(np.diff(first.prod(axis=1)) >= 0)


def test_fewer_distinct_boxes_than_k_fall_back_to_quantiles() -> None:
    wh = np.array([[4.0, 4.0]] * 5 + [[10.0, 20.0]] * 5)
    anchors = kmeans_anchors(wh, k=9)
    assert anchors.shape == (9, 2) and np.isfinite(anchors).all()
    assert {tuple(a) for a in anchors} == {(4.0, 4.0), (10.0, 20.0)}
    assert tuple(anchors[0]) == (4.0, 4.0) and tuple(anchors[-1]) == (10.0, 20.0)


@pytest.mark.parametrize("wh", [np.zeros((0, 2)), np.zeros((3, 2))])
def test_no_usable_boxes_raise_data_error(wh: np.ndarray) -> None:
    with pytest.raises(DataError, match="no training boxes"):
        kmeans_anchors(wh)
