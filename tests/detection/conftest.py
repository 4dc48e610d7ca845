"""A small shapes dataset generated once per test session (64-px images)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cspsearch.detection.shapes import make_shapes


@pytest.fixture(scope="session")
def shapes_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_shapes(tmp_path_factory.mktemp("shapes") / "data", images=60, size=64, seed=0)
