"""cspsearch bench on a tiny configuration: every figure is written, as JSON and markdown; and
the definitions behind the figures (reference point, GEMM MACs, bounded GEMM timing)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch

from cspsearch.bench import BenchSize
from cspsearch.bench import run_bench
from cspsearch.bench.gpu import KEYS as GPU_KEYS
from cspsearch.bench.gpu import gpu_figures
from cspsearch.bench.machine import GpuSampler
from cspsearch.bench.machine import gemm_flops
from cspsearch.bench.machine import gemm_size
from cspsearch.bench.plain import plain_loop
from cspsearch.bench.search import grid_hypervolume
from cspsearch.bench.search import reference
from cspsearch.bench.search import trivial_ratio
from cspsearch.bench.speed import gemm_macs
from cspsearch.classification.data import load_dataset
from cspsearch.models import build_model
from cspsearch.space.configs import DataConfig
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import TrainConfig
from cspsearch.training.precision import bf16_supported

KEYS = (
    "date",
    "device",
    "torch",
    "command",
    "precision",
    "bf16",
    "study_speedup_vs_plain_optuna",
    "trial_speedup_vs_plain_optuna",
    "study_speedup_vs_plain_optuna_bf16",
    "trial_speedup_vs_plain_optuna_bf16",
    "study_speedup_ceiling",
    "study_speedup_same_architectures",
    "plain_optuna",
    "our_study",
    "overhead_fraction",
    "overhead_harness_fraction",
    "gemm_fraction_fp32",
    "gemm_fraction_bf16",
    "speedup_vs_dataloader_fp32",
    "speedup_bf16_vs_fp32",
    "hv_ratio_tpe",
    "hv_ratio_nsga2",
    "hv_ratio_random",
    "hv_ratio_trivial",
    "tpe_vs_random",
    "trials_fraction",
    "epochs_fraction_early_stop",
    "gpu_utilisation",
    "targets",
)
TINY = {
    "study_trials": 2,
    "compared": 1,
    "seeds": 2,
    "growth_rate": (4,),
    "depth": (1,),
    "split_ratio": (0.25, 0.5),
    "fusion": ("none", "first", "last", "full"),
    "input_size": 8,
    "epochs": 1,
    "gemm_size": 128,
    "gemm_seconds": 0.05,
}


@pytest.mark.slow
def test_tiny_bench_writes_every_key(tiny_space_file: Path, tmp_path: Path) -> None:
    size = BenchSize(space=str(tiny_space_file), **TINY)
    out = tmp_path / "bench.json"
    assert run_bench(size, out, "cpu") == [out, out.with_suffix(".md")]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert [k for k in KEYS if k not in result] == []
    assert result["gpu_utilisation"] == "n/a"
    if not torch.cuda.is_available():  # the GPU figures (issue 26), each n/a on a CPU
        assert {k: result[k] for k in GPU_KEYS} == dict.fromkeys(GPU_KEYS, "n/a (no GPU)")
    # Each side ran twice (plain, ours, ours, plain): drift cancels, its size shows.
    assert result["plain_optuna"]["trials"] == result["our_study"]["trials"] == 2 * 2
    assert [len(result[k]["runs_wall_s"]) for k in ("plain_optuna", "our_study")] == [2, 2]
    assert result["plain_optuna"]["mean_macs_trained"] > 0  # what each side chose to train
    assert result["our_study"]["mean_macs_trained"] > 0
    plain, ours = result["plain_optuna"], result["our_study"]
    # The headline ratios are the ratios of the times in the same file (a swapped or stale
    # figure fails here).
    assert result["study_speedup_vs_plain_optuna"] == pytest.approx(
        plain["wall_s"] / ours["wall_s"]
    )
    assert plain["wall_s"] == pytest.approx(sum(plain["runs_wall_s"]))
    assert result["trial_speedup_vs_plain_optuna"] == pytest.approx(
        plain["per_trained_trial_s"] / ours["per_trained_trial_s"]
    )
    # The plain script replayed our first study's trials: the same architectures, equal work.
    same = result["same_architectures"]
    assert same["plain_replay"]["trials"] == same["ours"]["trials"] > 0
    assert result["study_speedup_same_architectures"] == pytest.approx(
        same["plain_replay"]["wall_s"] / same["ours"]["wall_s"]
    )
    steps = result["ceiling_steps"]  # steps of forked one-thread workers at once
    ceilings = [steps["workers"] * r["plain_step_ms"] / r["worker_step_ms"]
                for r in steps["architectures"]]  # fmt: skip
    assert result["study_speedup_ceiling"] == pytest.approx(statistics.median(ceilings))
    assert len(result["ceiling_steps"]["architectures"]) == TINY["compared"]
    assert 0 < result["overhead_harness_fraction"] < 1
    assert result["grid_size"] == 7 and result["trials_fraction"] == pytest.approx(2 / 7)
    # (≤ 1 up to rounding: on this tiny grid the cheapest architecture is the whole front)
    assert 0 <= result["hv_ratio_tpe"] <= 1 + 1e-9 and 0 <= result["hv_ratio_trivial"] <= 1 + 1e-9
    assert result["tpe_vs_random"]["seeds"] == 2
    if not bf16_supported("cpu"):  # bf16 is not measured where it would be emulated
        assert result["bf16"].startswith("n/a") and "bf16" not in result["architectures"][0]
        assert str(result["speedup_bf16_vs_fp32"]).startswith("n/a")
        assert str(result["study_speedup_vs_plain_optuna_bf16"]).startswith("n/a")
    else:  # the study pair again, both sides in bf16
        assert result["plain_optuna_bf16"]["trials"] == result["our_study_bf16"]["trials"] == 4
        assert result["study_speedup_vs_plain_optuna_bf16"] > 0
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| `study_speedup_vs_plain_optuna` |" in table and "plain optuna |" in table
    assert "| plain replay of our first study |" in table


def test_reference_point_makes_a_trivial_front_score_low() -> None:
    # MACs → (MACs, accuracy per epoch); the cheapest architecture is also poor.
    table = {"a": (10, [0.6]), "b": (50, [0.9]), "c": (100, [0.95]), "d": (60, [0.5])}
    assert reference(table) == [-0.5, 100]
    assert grid_hypervolume(table) == pytest.approx(0.1 * 40 + 0.4 * 50)
    assert trivial_ratio(table) == pytest.approx(0.1 * 90 / 24)


def test_gemm_fraction_counts_convolutions_and_linear_layers_only() -> None:
    ops = {"conv": 1000, "linear": 10, "batch_norm": 300, "adaptive_avg_pool2d": 5}
    assert gemm_macs(ops) == 1010


def test_gemm_is_measured_in_each_dtype_at_a_size_that_fits_its_time() -> None:
    assert gemm_flops("cpu", "fp32", size=64, seconds=0.01) > 0
    assert gemm_flops("cpu", "bf16", size=64, seconds=0.01) > 0
    # A size too large for the time given is halved rather than run for minutes.
    assert 128 <= gemm_size("cpu", "bf16", size=4096, seconds=0.02) < 4096


def test_gpu_utilisation_is_na_without_cuda() -> None:
    with GpuSampler("cpu", interval=0.01) as gpu:
        pass
    assert gpu.mean == "n/a"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_plain_loop_learns_in_either_precision(precision: str) -> None:
    # The reference must train properly in bf16 too (autocast around the forward pass and loss
    # only), or a bf16 speed-up against it would compare against a broken script.
    torch.manual_seed(0)
    model = build_model(ModelConfig(num_stages=2, stem_width=16, growth_rate=8, depth=2))
    cfg = TrainConfig(epochs=2, batch_size=64)
    result = plain_loop(model, load_dataset(DataConfig(input_size=8)), cfg, "cpu", precision)
    assert result["val_accuracy"] > 0.5 and result["time_s"] > 0  # chance is 0.1


def test_without_a_gpu_every_gpu_figure_is_na_at_once() -> None:
    figures = gpu_figures("cpu", [], None)  # nothing is built, trained or waited for
    assert figures == dict.fromkeys(GPU_KEYS, "n/a (no GPU)") and len(figures) == 7
