"""Shared fixtures: a tiny space file (8×8 digits, one-epoch training) and a temporary storage."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres

TINY_SPACE = """
description: tiny test space
model:
  num_stages: 2
  stem_width: 8
  growth_rate: 4
  depth: {choices: [1, 2]}
  split_ratio: {choices: [0.25, 0.5]}
  fusion: {choices: [none, first, last, full]}
train:
  epochs: 1
  batch_size: 128
  precise_bn: 128
data:
  input_size: 8
objectives:
  val_accuracy: maximize
  macs: minimize
study:
  n_trials: 2
"""


def write_space(folder: Path, text: str, name: str = "tiny") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI writes reports/ (storage, artifacts, HTML) under the working folder by default.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _one_worker_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # On a CPU `cspsearch run` starts one worker process per core by default; tests that do not
    # say --n-workers run their trials in-process (their output and tracebacks stay visible).
    # tests/trials/test_workers.py checks the default itself.
    monkeypatch.setenv("CSPSEARCH_N_WORKERS", "1")


@pytest.fixture
def tiny_space_file(tmp_path: Path) -> Path:
    return write_space(tmp_path, TINY_SPACE)


@pytest.fixture
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    yield from postgres.server()


_databases = itertools.count()


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the shared test server."""
    return postgres.new_database(postgres_server, f"test{next(_databases)}")
