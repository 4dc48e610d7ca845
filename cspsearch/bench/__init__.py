"""``cspsearch bench``: how fast trials are and how well the search spends them, every figure a
ratio of two things measured side by side in the same run (JSON + a markdown table).

speed.py times a real study and our trainer against a plain DataLoader loop; machine.py
measures the dense GEMM peak and samples GPU utilisation; search.py replays samplers and the
early-stopping scheme against an exhaustively evaluated grid. Targets (issue 7) are checked in
``TARGETS``; a miss is reported, not hidden.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import tempfile
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch

from cspsearch.bench import machine
from cspsearch.bench import search
from cspsearch.bench import speed
from cspsearch.bench.table import markdown
from cspsearch.classification.data import load_dataset
from cspsearch.space.loader import load_space
from cspsearch.space.loader import parse_space
from cspsearch.space.searchspace import SearchSpace
from cspsearch.training.device import pick_device
from cspsearch.training.precision import resolve_precision
from cspsearch.trials.early_stop import EarlyStop


@dataclass(frozen=True)
class BenchSize:
    """How much each part measures."""

    space: str = "csp_densenet"  # the space whose study's overhead is measured
    overhead_trials: int = 6  # trials of that study
    compared: int = 4  # of its architectures, trained by us (fp32, bf16) and by the plain loop
    seeds: int = 5  # sampler seeds per replay
    growth_rate: tuple[int, ...] = (8, 16)  # the grid: growth × depth × fusion × γ
    depth: tuple[int, ...] = (1, 3)
    split_ratio: tuple[float, ...] = (0.25, 0.5, 0.75)
    fusion: tuple[str, ...] = ("none", "first", "last", "full")
    input_size: int = 16
    epochs: int = 4
    gemm_size: int = 2048


QUICK = BenchSize()
FULL = BenchSize(
    overhead_trials=20, compared=10, seeds=10, growth_rate=(8, 12, 16), depth=(1, 2, 3)
)
TARGETS = {  # key: (comparison, bound)
    "overhead_fraction": ("<=", 0.03),
    "gemm_fraction_fp32": (">=", 0.5),
    "speedup_vs_dataloader": (">=", 2.0),
    "hv_ratio_tpe": (">=", 0.95),
    "trials_fraction": ("<=", 0.4),
}


def grid_space(size: BenchSize) -> SearchSpace:
    """A small categorical CSPDenseNet space on the digits, every combination trainable fast."""
    raw = {
        "description": "cspsearch bench grid",
        "model": {
            "family": "csp_densenet",
            "num_stages": 3,
            "stem_width": 16,
            "growth_rate": {"choices": list(size.growth_rate)},
            "depth": {"choices": list(size.depth)},
            "split_ratio": {"choices": list(size.split_ratio)},
            "fusion": {"choices": list(size.fusion)},
        },
        "train": {"epochs": size.epochs, "batch_size": 64, "lr": 0.004},
        "data": {"dataset": "digits", "input_size": size.input_size},
        "objectives": {"val_accuracy": "maximize", "macs": "minimize"},
        "study": {"sampler": "tpe"},
    }
    return parse_space(raw, source="<bench grid>", name="bench_grid")


def describe_device(device: str) -> str:
    if device.startswith("cuda"):
        return f"{device}: {torch.cuda.get_device_name(device)}"
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        cpu = next(ln.split(":", 1)[1].strip() for ln in text.splitlines() if "model name" in ln)
    except (OSError, StopIteration):
        pass
    return f"cpu: {cpu}, {os.cpu_count()} logical cores, {torch.get_num_threads()} threads"


def run_bench(size: BenchSize, out: Path, device: str = "auto") -> list[Path]:
    """Run every measurement; write ``out`` (JSON) and ``out`` with .md; return both paths."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    device = pick_device(device)
    precision = resolve_precision(device, "auto")
    result: dict[str, Any] = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "device": describe_device(device),
        "torch": torch.__version__,
        "command": "cspsearch " + " ".join(sys.argv[1:]) if sys.argv[1:] else "cspsearch bench",
        "precision": precision,
        "size": asdict(size),
    }
    result["gemm_gflops"] = {
        p: machine.gemm_flops(device, p, size.gemm_size) / 1e9 for p in ("fp32", "bf16")
    }
    result.update(_speed(device, size, precision, result["gemm_gflops"]))
    result.update(_search(device, size))
    result["targets"] = check(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    table = out.with_suffix(".md")
    table.write_text(markdown(result), encoding="utf-8")
    return [out, table]


def _speed(device: str, size: BenchSize, precision: str, gemm: dict[str, float]) -> dict:
    space = load_space(size.space)
    with tempfile.TemporaryDirectory() as tmp, machine.GpuSampler(device) as gpu:
        trials = speed.run_overhead_study(space, size.overhead_trials, device, Path(tmp))
    out: dict[str, Any] = {"gpu_utilisation": gpu.mean, **speed.overhead(trials)}
    data = load_dataset(space.data, device)
    configs = [(*c, t.user_attrs["macs"]) for c, t in zip(speed.configs_of(trials), trials)]
    rows = speed.compare(configs[: size.compared], data, device)
    peaks = {p: g * 1e9 for p, g in gemm.items()}
    out.update(speed.summarise(rows, len(data.train_x), peaks, precision))
    for p in ("fp32", "bf16"):
        out[f"profile_{p}_step"] = speed.profile(configs[0][0], data, device, p)
    out["architectures"] = rows
    return out


def _search(device: str, size: BenchSize) -> dict[str, Any]:
    space = grid_space(size)
    table = search.evaluate_grid(space, device)
    n_trials = max(1, int(0.4 * len(table)))
    out = search.sampler_ratios(space, table, n_trials, size.seeds)
    out.update(search.early_stop_fraction(space, table, n_trials, size.seeds, EarlyStop()))
    return out


def check(result: dict[str, Any]) -> dict[str, str]:
    """Each target: "met" or "missed", with the figure and its bound."""
    out = {}
    for key, (op, bound) in TARGETS.items():
        value = result[key]
        ok = value <= bound if op == "<=" else value >= bound
        out[key] = f"{'met' if ok else 'missed'}: {value:.3f} (target {op} {bound})"
    better = result["hv_ratio_tpe"] > result["hv_ratio_random"]
    out["tpe_better_than_random"] = "met" if better else "missed"
    return out
