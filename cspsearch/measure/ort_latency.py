"""``latency_ort`` of a trial's network: exported (measure/onnx.py), checked against PyTorch,
and timed in ONNX Runtime in turns with a fixed reference network, as ms at the reference's
scale: median(network) / median(reference) × the reference's ms alone (``scale_ms``, which a
study stores once, trials/reference.py).

NOTE: the issue asks for the network's median ms; that is kept as ``latency_ort_raw``. Why the
reference: this host's speed drifts by several percent over seconds (docs/deploying.md,
"Repeatability"), more than a trial's short timing can average out, so two measurements of one
network a minute apart differed by up to 8% (27% in a burst). Timed in turns with the network,
the reference meets the same drift, and the ratio of the two medians held within 5% where the
milliseconds did not (benchmarks/deploy.py repeat).
"""

from __future__ import annotations

import statistics
import time
from functools import cache
from typing import Any

import torch
from torch import nn

from cspsearch.measure.onnx import export_onnx
from cspsearch.measure.onnx import first_line
from cspsearch.measure.onnx import session
from cspsearch.measure.onnx import time_interleaved
from cspsearch.measure.onnx import time_runs
from cspsearch.measure.onnx import verify

SCALE_S = 0.5  # seconds the reference is timed alone for a study's scale
WINDOW_S = 0.015  # seconds the network and the reference are each timed, in ROUNDS turns
ROUNDS = 20  # many short turns: both meet the same drift (a 10 ms window once had 24 of 40 off)


class _Split(nn.Module):
    """Half the channels through a convolution, concatenated with the other half: the memory
    traffic of a CSP stage, which MACs do not count, is in the reference too."""

    def __init__(self, chs: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(chs // 2, chs // 2, 3, padding=1), nn.SiLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return torch.cat([a, self.conv(b)], dim=1)


def reference_network(in_chans: int) -> nn.Module:
    """The reference, with fixed weights (seed 0, the global random state left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(
            nn.Conv2d(in_chans, 16, 3, stride=1, padding=1), nn.SiLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.SiLU(), _Split(32),
            nn.Conv2d(32, 48, 3, stride=2, padding=1), nn.SiLU(), _Split(48),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10),
        ).eval()  # fmt: skip


@cache
def reference_session(input_size: int, in_chans: int, threads: int) -> Any:
    """The reference in ONNX Runtime, exported once per process and shape."""
    data, _ = export_onnx(reference_network(in_chans), input_size, in_chans, fallback=False)
    return session(data, threads)


@cache
def reference_ms(input_size: int, in_chans: int, threads: int) -> float:
    """The reference's median ms alone over ``SCALE_S`` seconds (once per process and shape):
    the scale where no study stores one."""
    sess = reference_session(input_size, in_chans, threads)
    runs = time_runs(
        sess, input_size, in_chans, budget_s=2 * SCALE_S, min_s=SCALE_S, max_runs=10**6
    )
    return statistics.median(runs)


def time_against_reference(
    sess: Any, input_size: int, in_chans: int, threads: int, scale_ms: float | None = None
) -> dict[str, float]:
    """``sess`` (batch 1) and the reference timed in turns: ``latency_ort`` at the scale
    ``scale_ms`` (None: this process's ``reference_ms``), the raw medians beside it."""
    ref = reference_session(input_size, in_chans, threads)
    scale = scale_ms if scale_ms is not None else reference_ms(input_size, in_chans, threads)
    runs, ref_runs = time_interleaved([sess, ref], [(input_size, in_chans)] * 2, WINDOW_S, ROUNDS)
    raw, ref_raw = statistics.median(runs), statistics.median(ref_runs)
    return {
        "latency_ort": raw / ref_raw * scale,
        "latency_ort_raw": raw,  # this measurement's median ms, as the issue defines it
        "ort_reference_ms": ref_raw,  # the reference's median in the same turns
        "ort_reference_scale_ms": scale,
    }


def measure_ort(
    model: nn.Module,
    input_size: int,
    in_chans: int,
    threads: int,
    fallback: bool = False,
    scale_ms: float | None = None,
) -> dict[str, Any]:
    """``latency_ort`` (``time_against_reference``) and how it was got, as trial attributes;
    where the network does not export or ONNX Runtime disagrees with PyTorch,
    ``latency_ort_missing`` with the reason.
    NOTE: no dynamo fallback by default: in a trial it would cost more than the training."""
    start = time.perf_counter()
    try:
        data, exporter = export_onnx(model, input_size, in_chans, fallback)
        sess = session(data, threads)
        check = verify(sess, model, input_size, in_chans)
    except Exception as exc:  # noqa: BLE001 (the reason is recorded; the study goes on)
        return {"latency_ort_missing": f"export failed: {first_line(exc)}"}
    if not check["ok"]:
        return {
            "latency_ort_missing": f"ONNX Runtime differs from PyTorch by "
            f"{check['max_abs_diff']:.3g} (tolerance {check['tolerance']:.3g})"
        }
    export_s = time.perf_counter() - start
    return {
        **time_against_reference(sess, input_size, in_chans, threads, scale_ms),
        "ort_threads": threads,
        "ort_exporter": exporter,
        "ort_max_abs_diff": check["max_abs_diff"],
        "ort_export_s": export_s,  # export, session and check
        "ort_time_s": time.perf_counter() - start,  # all of it: what a trial pays
    }
