"""ONNX export round trip for every family on a tiny network: the file loads in a plain
ONNX Runtime session, runs at another batch size (the batch is dynamic) and matches PyTorch;
an op the exporter cannot express is a reason, not a crash (``latency_ort`` itself:
test_ort_latency.py)."""

from __future__ import annotations

import time

import numpy as np
import onnxruntime
import pytest
import torch

from cspsearch.measure.onnx import TOLERANCE
from cspsearch.measure.onnx import export_onnx
from cspsearch.measure.onnx import session
from cspsearch.measure.onnx import time_interleaved
from cspsearch.measure.onnx import verify
from cspsearch.measure.ort_latency import measure_ort
from cspsearch.models import build_model
from cspsearch.models.detector import Detector
from cspsearch.space.configs import DetectorConfig
from cspsearch.space.configs import ModelConfig

TINY = {"num_stages": 2, "stem_width": 8, "out_chs": 16, "growth_rate": 4, "depth": 1}
FAMILIES = {
    "csp_densenet": {},
    "csp_resnet": {},
    "csp_resnext": {"groups": 2},
    "csp_darknet": {},
    "csp_peleenet": {},
    "csp_yolo": {"block": ("c2f", "gelan"), "tail": "sppf", "activation": "silu"},
}


def _round_trip(model: torch.nn.Module, size: int, chans: int) -> list[np.ndarray]:
    data, exporter = export_onnx(model, size, chans, fallback=False)
    assert exporter == "torchscript"
    plain = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    x = torch.randn(3, chans, size, size)  # exported at batch 1
    got = plain.run(None, {"input": x.numpy()})
    with torch.no_grad():
        ref = model.eval()(x)
    ref = [ref] if isinstance(ref, torch.Tensor) else list(ref)
    assert [g.shape for g in got] == [tuple(r.shape) for r in ref]
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r.numpy(), atol=TOLERANCE, rtol=TOLERANCE)
    check = verify(session(data), model, size, chans)
    assert check["ok"] and check["input_shape"][0] == 2
    return got


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_exports_and_matches(family: str) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(family=family, **{**TINY, **FAMILIES[family]}, in_chans=1))
    (logits,) = _round_trip(model, 16, 1)
    assert logits.shape == (3, 10)


def test_a_detector_exports_its_raw_head_outputs() -> None:
    torch.manual_seed(0)
    model_cfg = ModelConfig(family="csp_darknet", num_stages=3, stem_width=8, out_chs=16, depth=1)
    model_cfg = ModelConfig(**{**model_cfg.to_dict(), "in_chans": 3, "num_classes": 2})
    anchors = np.arange(1, 19, dtype=np.float32).reshape(9, 2)
    model = Detector(model_cfg, DetectorConfig(neck_width=8), 2, anchors, 32)
    outputs = _round_trip(model, 32, 3)
    assert len(outputs) == 3  # one raw tensor per pyramid level: no decoding, no NMS


def test_interleaved_timing_gives_every_session_every_round() -> None:
    small = build_model(ModelConfig(family="csp_yolo", **TINY, in_chans=1))
    wide = build_model(ModelConfig(family="csp_yolo", **{**TINY, "out_chs": 64}, in_chans=3))
    sessions = [session(export_onnx(m, 16, c)[0]) for m, c in ((small, 1), (wide, 3))]
    start = time.perf_counter()
    times = time_interleaved(sessions, [(16, 1), (16, 3)], window_s=0.2, rounds=5)
    assert time.perf_counter() - start < 5  # the window, not a fixed count of runs
    assert all(len(runs) >= 5 and min(runs) > 0 for runs in times)
    # The two sessions share the rounds' time: the wider network runs fewer times.
    assert len(times[1]) < len(times[0])


def test_measuring_leaves_the_network_as_it_was() -> None:
    """The network is exported and checked in place (no copy): nothing of it may change."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(family="csp_yolo", **TINY, in_chans=1)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    attrs = measure_ort(model, 16, 1, threads=1)
    assert "latency_ort" in attrs and model.training
    assert all(m.training for m in model.modules())
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BatchNorm statistics too


class _Spectrum(torch.nn.Module):
    """A complex FFT: the TorchScript exporter has no ONNX form for it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.fft2(x).abs()


def test_an_op_onnx_cannot_express_is_a_reason() -> None:
    attrs = measure_ort(_Spectrum(), 8, 1, threads=1)
    assert set(attrs) == {"latency_ort_missing"}
    assert attrs["latency_ort_missing"].startswith("export failed: ")
    assert "fft" in attrs["latency_ort_missing"]
