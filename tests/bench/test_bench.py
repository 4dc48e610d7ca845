"""cspsearch bench on a tiny configuration: every figure is written, as JSON and markdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cspsearch.bench import BenchSize
from cspsearch.bench import run_bench
from cspsearch.bench.machine import GpuSampler
from cspsearch.bench.machine import gemm_flops

KEYS = (
    "date",
    "device",
    "torch",
    "command",
    "precision",
    "overhead_fraction",
    "gemm_fraction",
    "gemm_fraction_fp32",
    "gemm_fraction_bf16",
    "speedup_vs_dataloader",
    "hv_ratio_tpe",
    "hv_ratio_nsga2",
    "hv_ratio_random",
    "trials_fraction",
    "epochs_fraction_early_stop",
    "gpu_utilisation",
    "precision_agreement",
    "targets",
)


@pytest.mark.slow
def test_tiny_bench_writes_every_key(tiny_space_file: Path, tmp_path: Path) -> None:
    size = BenchSize(
        space=str(tiny_space_file),
        overhead_trials=2,
        compared=1,
        seeds=1,
        growth_rate=(4,),
        depth=(1,),
        split_ratio=(0.5,),
        fusion=("none", "last"),
        input_size=8,
        epochs=2,
        gemm_size=128,
    )
    out = tmp_path / "bench.json"
    assert run_bench(size, out, "cpu") == [out, out.with_suffix(".md")]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert [k for k in KEYS if k not in result] == []
    assert result["gpu_utilisation"] == "n/a"
    assert 0 < result["overhead_fraction"] < 1 and result["trials_fraction"] == 0.5
    assert 0 < result["hv_ratio_tpe"] <= 1 and result["grid_size"] == 2
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| `hv_ratio_tpe` |" in table and "bf16 vs fp32 accuracy" in table


def test_gemm_is_measured_in_each_dtype() -> None:
    assert gemm_flops("cpu", "fp32", size=64, seconds=0.01) > 0
    assert gemm_flops("cpu", "bf16", size=64, seconds=0.01) > 0


def test_gpu_utilisation_is_na_without_cuda() -> None:
    with GpuSampler("cpu", interval=0.01) as gpu:
        pass
    assert gpu.mean == "n/a"
