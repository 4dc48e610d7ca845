"""``latency_ort``: the network's median over the reference's, timed in turns, at a scale; the
reference is fixed (its weights, its export once per process) and leaves torch's random state
alone."""

from __future__ import annotations

import pytest
import torch

from cspsearch.measure.onnx import TOLERANCE
from cspsearch.measure.ort_latency import measure_ort
from cspsearch.measure.ort_latency import reference_ms
from cspsearch.measure.ort_latency import reference_network
from cspsearch.measure.ort_latency import reference_session
from cspsearch.models import build_model
from cspsearch.space.configs import ModelConfig

TINY = {"num_stages": 2, "stem_width": 8, "out_chs": 16, "depth": 1, "block": ("c2f", "gelan")}


def _tiny(width: int = 16) -> torch.nn.Module:
    return build_model(ModelConfig(family="csp_yolo", **{**TINY, "out_chs": width}, in_chans=1))


def test_latency_ort_is_the_ratio_to_the_reference_at_the_scale() -> None:
    attrs = measure_ort(_tiny(), 16, 1, threads=1, scale_ms=2.0)
    assert attrs["ort_threads"] == 1 and attrs["ort_reference_scale_ms"] == 2.0
    assert attrs["latency_ort_raw"] > 0 and attrs["ort_reference_ms"] > 0
    ratio = attrs["latency_ort_raw"] / attrs["ort_reference_ms"]
    assert attrs["latency_ort"] == pytest.approx(2.0 * ratio)
    assert attrs["ort_max_abs_diff"] <= TOLERANCE and "latency_ort_missing" not in attrs


def test_without_a_scale_the_process_reference_alone_is_the_scale() -> None:
    attrs = measure_ort(_tiny(), 16, 1, threads=1)
    assert attrs["ort_reference_scale_ms"] == reference_ms(16, 1, 1) > 0
    assert reference_ms(16, 1, 1) == reference_ms(16, 1, 1)  # measured once per process


def test_a_larger_network_is_slower_than_a_smaller_one() -> None:
    """The ratio keeps the order of clearly different networks (16 against 128 channels)."""
    small = measure_ort(_tiny(16), 16, 1, threads=1, scale_ms=1.0)["latency_ort"]
    large = measure_ort(_tiny(128), 16, 1, threads=1, scale_ms=1.0)["latency_ort"]
    assert large > 1.5 * small


def test_the_reference_is_fixed_and_leaves_the_random_state() -> None:
    torch.manual_seed(5)
    state = torch.get_rng_state()
    a, b = reference_network(3), reference_network(3)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert reference_session(16, 3, 1) is reference_session(16, 3, 1)  # exported once
