"""A network in ONNX Runtime: export with a dynamic batch dimension, a check of ONNX Runtime's
output against PyTorch's, and the timing of batch-1 runs on the CPU execution provider
(``latency_ort`` itself: measure/ort_latency.py).

Needs the ``deploy`` extra (onnx, onnxruntime, onnxscript); callers check it first with
``cspsearch.errors.require_deploy`` (one line naming the pip command). The exporter is
TorchScript's (``dynamo=False``): on the 2-core CPU the dynamo exporter took 13× as long for
a digits csp_yolo network (40.6 s against 3.1 s, benchmarks/deploy.py exporters), which a
trial cannot pay.
``cspsearch export --onnx`` tries the dynamo exporter where TorchScript's fails. A detector
exports its raw head outputs (one tensor per pyramid level, before decoding and NMS).
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import statistics
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

TOLERANCE = 1e-4  # max |ORT − PyTorch| per output element, × max(1, max |PyTorch output|)
CHECK_BATCH = 2  # the check runs at another batch size than the export: the batch is dynamic


@contextlib.contextmanager
def on_cpu_in_eval(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode on the CPU, its training flag restored after. A network already
    on the CPU is used as it is: no copy, since a trial's network, measured before training,
    would pay ~15 ms a copy, as much as the check (export and check never change weights or
    buffers: tests/measure/test_onnx.py). One on another device is copied to the CPU."""
    if any(t.device.type != "cpu" for t in itertools.chain(model.parameters(), model.buffers())):
        yield copy.deepcopy(model).cpu().eval()
        return
    training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(training)


def export_onnx(
    model: nn.Module, input_size: int, in_chans: int, fallback: bool = True
) -> tuple[bytes, str]:
    """``model`` (on the CPU, eval mode) as ONNX bytes with a dynamic batch, and the exporter
    used; with ``fallback``, the dynamo exporter where TorchScript's fails (10+ s)."""
    with on_cpu_in_eval(model) as model:
        return _export(model, input_size, in_chans, fallback)


def _export(model: nn.Module, input_size: int, in_chans: int, fallback: bool) -> tuple[bytes, str]:
    x = torch.zeros(1, in_chans, input_size, input_size)
    with torch.no_grad():
        out = model(x)
    single = isinstance(out, torch.Tensor)
    names = ["output"] if single else [f"output{i}" for i in range(len(out))]
    axes = {name: {0: "batch"} for name in ["input", *names]}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        try:
            torch.onnx.export(
                model, (x,), buffer, input_names=["input"], output_names=names,
                dynamic_axes=axes, dynamo=False, opset_version=17,
            )  # fmt: skip
            return buffer.getvalue(), "torchscript"
        except Exception as first:  # noqa: BLE001 (any exporter failure: try the other)
            if not fallback:
                raise RuntimeError(first_line(first)) from None
            try:
                program = torch.onnx.export(
                    model, (x,), input_names=["input"], output_names=names, dynamo=True,
                    dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False,
                )  # fmt: skip
                return program.model_proto.SerializeToString(), "dynamo"
            except Exception:  # noqa: BLE001
                raise RuntimeError(first_line(first)) from None


def session(onnx_model: bytes | str | Path, threads: int = 1) -> Any:
    """An ONNX Runtime session on the CPU provider with ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    source = str(onnx_model) if isinstance(onnx_model, Path) else onnx_model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def verify(
    sess: Any, model: nn.Module, input_size: int, in_chans: int, seed: int = 0
) -> dict[str, Any]:
    """ONNX Runtime's outputs against PyTorch's (fp32, eval) on a fixed random input."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(CHECK_BATCH, in_chans, input_size, input_size, generator=generator)
    with on_cpu_in_eval(model) as model, torch.no_grad():
        out = model(x)
    ref = [out] if isinstance(out, torch.Tensor) else list(out)
    got = sess.run(None, {"input": x.numpy()})
    shapes = [list(r.shape) for r in ref]
    same_shapes = shapes == [list(g.shape) for g in got]
    diff = max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref)) if same_shapes else 0
    scale = max(1.0, max(float(r.abs().max()) for r in ref))
    return {
        "ok": same_shapes and diff <= TOLERANCE * scale,
        "max_abs_diff": diff,
        "max_abs_output": scale,
        "tolerance": TOLERANCE * scale,
        "input_shape": list(x.shape),
        "output_shapes": shapes,
        "seed": seed,
    }


def time_session(sess: Any, input_size: int, in_chans: int, **window: Any) -> float:
    """Median ms of one batch-1 run after warm-up (``time_runs``; ``window``: its keywords)."""
    return statistics.median(time_runs(sess, input_size, in_chans, **window))


def time_runs(
    sess: Any,
    input_size: int,
    in_chans: int,
    budget_s: float = 2.0,
    min_s: float = 0.2,
    max_runs: int = 200,
) -> list[float]:
    """Ms of each timed batch-1 run after warm-up: at least 10 runs and ``min_s``, at most
    ``max_runs`` (3 past ``budget_s``) — small networks run in tenths of a millisecond.

    Used for a study's scale (the reference alone, measure/ort_latency.py) and the presets'
    table; a trial times its network in turns with the reference instead (``time_interleaved``):
    timed alone, the host's drift moved one architecture's median by up to 8% in a minute."""
    x = {"input": np.zeros((1, in_chans, input_size, input_size), dtype=np.float32)}
    for _ in range(3):  # warm-up: allocations, the first runs' kernel choices
        sess.run(None, x)
    times: list[float] = []
    while len(times) < max_runs and (len(times) < 10 or sum(times) < 1000 * min_s):
        if len(times) >= 3 and sum(times) > 1000 * budget_s:
            break
        start = time.perf_counter()
        sess.run(None, x)
        times.append(1000 * (time.perf_counter() - start))
    return times


def time_interleaved(
    sessions: list[Any], shapes: list[tuple[int, int]], window_s: float, rounds: int = 20
) -> list[list[float]]:
    """Ms of each timed batch-1 run of each session (``shapes``: input size and channels), in
    turns: ``rounds`` rounds, each session run for ``window_s / rounds`` seconds (at least
    once) a round, after warm-up; ``window_s`` seconds a session, all of them in turn.

    NOTE: interleaved because this host's speed drifts by several percent over seconds: a file
    timed alone over a long window meets another speed than the next file does (a 1 s window
    each agreed worse between turns than a 0.05 s one; benchmarks/deploy.py repeat), while
    turns put every file through the same drift."""
    inputs = [{"input": np.zeros((1, c, s, s), dtype=np.float32)} for s, c in shapes]
    for sess, x in zip(sessions, inputs):
        for _ in range(3):  # warm-up, as time_runs
            sess.run(None, x)
    times: list[list[float]] = [[] for _ in sessions]
    for _ in range(rounds):
        for sess, x, runs in zip(sessions, inputs, times):
            end = time.perf_counter() + window_s / rounds
            while True:
                start = time.perf_counter()
                sess.run(None, x)
                stop = time.perf_counter()
                runs.append(1000 * (stop - start))
                if stop >= end:
                    break
    return times


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}"[:300]
