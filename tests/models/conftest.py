"""Fixtures of the model tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def one_thread() -> Iterator[None]:
    # Hundreds of tiny forward passes: a thread pool costs more than it gives (measured 10-100×
    # on a loaded 2-core machine), so sweeps run on one thread and restore the setting after.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
