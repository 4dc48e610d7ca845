"""``cspsearch bench``: how fast trials are and how well the search spends them, every figure a
ratio of two things measured side by side in the same run (JSON + a markdown table).

study.py runs the default study against a plain Optuna script (same space, trials and precision;
the plain script is plain.py) and splits our trials' wall time; ceiling.py bounds that ratio
from training steps alone; speed.py times our trainer against a plain DataLoader loop per
architecture; machine.py measures the dense GEMM peak and samples GPU utilisation; search.py
replays samplers and the early-stopping scheme against an exhaustively evaluated grid; gpu.py
adds the GPU figures (``n/a (no GPU)`` elsewhere). bf16 is
measured only where the device computes it natively (elsewhere ``n/a``, with why). Every part is
bounded in time and announced as it starts. Targets are checked in ``TARGETS``; a miss is
reported, not hidden; table.py writes the markdown table.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch

from cspsearch.bench import ceiling
from cspsearch.bench import machine
from cspsearch.bench import search
from cspsearch.bench import speed
from cspsearch.bench import study
from cspsearch.bench.gpu import gpu_figures
from cspsearch.bench.table import markdown
from cspsearch.classification.data import load_dataset
from cspsearch.space.loader import load_space
from cspsearch.space.loader import parse_space
from cspsearch.space.searchspace import SearchSpace
from cspsearch.training.device import pick_device
from cspsearch.training.precision import bf16_supported
from cspsearch.training.precision import resolve_precision
from cspsearch.trials.early_stop import EarlyStop
from cspsearch.trials.progress import console


@dataclass(frozen=True)
class BenchSize:
    """How much each part measures."""

    space: str = "csp_densenet"  # the space of the study comparison (ours vs plain Optuna)
    study_trials: int = 16  # trials of each study
    compared: int = 3  # architectures of our study trained by our trainer and the plain loop
    compare_budget_s: float = 90.0  # no further architecture is compared past this
    seeds: int = 5  # sampler seeds per replay
    growth_rate: tuple[int, ...] = (8, 16)  # the grid: growth × depth × fusion × γ
    depth: tuple[int, ...] = (1, 3)
    split_ratio: tuple[float, ...] = (0.25, 0.5, 0.75)
    fusion: tuple[str, ...] = ("none", "first", "last", "full")
    input_size: int = 16
    epochs: int = 4
    gemm_size: int = 2048
    gemm_seconds: float = 1.5


# Measured 2026-11-25 on 2 AVX2 cores: the old default size took 636 s (grid 321 s), this 490 s;
# two γ values and two compared architectures bring the grid to 28 architectures. Each side of
# the study comparison runs twice (study.py), so 10 trials a study: 20 a side, as 16 were once.
QUICK = BenchSize(study_trials=10, compared=2, split_ratio=(0.25, 0.75))
FULL = BenchSize(
    study_trials=30, compared=8, compare_budget_s=300.0, seeds=10, growth_rate=(8, 12, 16),
    depth=(1, 2, 3),
)  # fmt: skip
TARGETS = {  # key: (comparison, bound)
    "study_speedup_vs_plain_optuna": (">=", 2.0),
    "study_speedup_same_architectures": (">=", 2.0),
    "overhead_harness_fraction": ("<=", 0.03),
    "overhead_fraction": ("<=", 0.03),
    "gemm_fraction_fp32": (">=", 0.5),
    "speedup_vs_dataloader_fp32": (">=", 2.0),
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


class Steps:
    """Progress on the console, as ``cspsearch run`` prints it: one line as each part starts,
    one with its time as it ends."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.perf_counter()

    @contextlib.contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        self.done += 1
        began = time.perf_counter()
        console.print(f"[bold][{self.done}/{self.total}][/bold] {what} …", highlight=False)
        yield
        took, spent = time.perf_counter() - began, time.perf_counter() - self.start
        console.print(f"      done in {took:.1f} s ({spent:.0f} s so far)", highlight=False)


def run_bench(size: BenchSize, out: Path, device: str = "auto") -> list[Path]:
    """Run every measurement; write ``out`` (JSON) and ``out`` with .md; return both paths."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    device = pick_device(device)
    native = bf16_supported(device)
    precisions = ("fp32", "bf16") if native else ("fp32",)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": describe_device(device),
        "torch": torch.__version__,
        "command": "cspsearch " + " ".join(sys.argv[1:]) if sys.argv[1:] else "cspsearch bench",
        "precision": resolve_precision(device, "auto"),
        "bf16": "native" if native else f"n/a: {device} has no native bf16 (emulated: slower)",
        "size": asdict(size),
    }
    na = f"n/a ({result['bf16'].removeprefix('n/a: ')})"
    steps = Steps(7 if native else 6)
    with steps("dense GEMM peak, " + " and ".join(precisions)):
        result["gemm_gflops"] = {
            p: machine.gemm_flops(device, p, size.gemm_size, size.gemm_seconds) / 1e9
            for p in precisions
        }
        result["gemm_gflops"].setdefault("bf16", na)
    result.update(_speed(device, size, precisions, result["gemm_gflops"], steps))
    with steps("sampler and early-stopping replays on an exhaustively trained grid"):
        result.update(_search(device, size))
    result["bench_wall_s"] = time.perf_counter() - started
    result["targets"] = check(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    table = out.with_suffix(".md")
    table.write_text(markdown(result), encoding="utf-8")
    return [out, table]


def _speed(
    device: str, size: BenchSize, precisions: tuple[str, ...], gemm: dict, steps: Steps
) -> dict[str, Any]:
    space = load_space(size.space)
    n = size.study_trials
    what = f"plain Optuna script and our default study, {n} trials each, {{}}"
    fp32 = what.format("plain-ours-replay-ours-plain, fp32")
    with tempfile.TemporaryDirectory() as tmp, machine.GpuSampler(device) as gpu, steps(fp32):
        out, trials = study.compare_studies(space, n, device, Path(tmp), same_architectures=True)
    out["gpu_utilisation"] = gpu.mean
    if "bf16" in precisions:  # the same pair again, both in bf16: every ratio in one precision
        bf16_what = what.format("plain-ours-ours-plain, bf16")
        with tempfile.TemporaryDirectory() as tmp, steps(bf16_what):
            bf16, _ = study.compare_studies(space, n, device, Path(tmp), "bf16")
        out.update({f"{k}_bf16": bf16[k] for k in STUDY_KEYS})
    else:
        out.update({f"{k}_bf16": f"n/a ({device} has no native bf16)" for k in STUDY_KEYS[:2]})
    data = load_dataset(space.data, device)
    configs = speed.configs_of(trials)[: size.compared]
    with steps(f"our trainer vs a plain DataLoader loop, {len(configs)} architectures"):
        rows = speed.compare(configs, data, device, precisions, size.compare_budget_s)
    out.update(speed.summarise(rows, len(data.train_x), gemm))
    with steps(f"one step: torch's threads vs one-thread workers at once, {len(configs)} archs"):
        out.update(ceiling.measure(configs, data, device))
    with steps("GPU figures: eager and graphed step, a csp_efm trial, the study's rate"):
        figures = gpu_figures(device, configs, data)
        for key, value in figures.items():  # on a CPU: n/a (no GPU) each, at once
            console.print(f"      {key}: {value}", highlight=False)
        out.update(figures)
    with steps("profile of one training step"):
        for p in ("fp32", "bf16"):
            ok = p in precisions
            step = speed.profile(configs[0][0], data, device, p) if ok else "n/a"
            out[f"profile_{p}_step"] = step
    out["architectures"] = rows
    return out


STUDY_KEYS = (
    "study_speedup_vs_plain_optuna",
    "trial_speedup_vs_plain_optuna",
    "plain_optuna",
    "our_study",
)


def _search(device: str, size: BenchSize) -> dict[str, Any]:
    space = grid_space(size)
    table = search.evaluate_grid(space, device)
    n_trials = max(1, int(0.4 * len(table)))
    out = search.sampler_ratios(space, table, n_trials, size.seeds)
    out.update(search.early_stop_fraction(space, table, n_trials, size.seeds, EarlyStop()))
    return out


def check(result: dict[str, Any]) -> dict[str, str]:
    """Each target: "met", "missed" or "n/a", with the figure and its bound."""
    out = {}
    for key, (op, bound) in TARGETS.items():
        value = result.get(key, "n/a")
        if not isinstance(value, int | float):
            out[key] = f"n/a: {value}"
            continue
        ok = value <= bound if op == "<=" else value >= bound
        out[key] = f"{'met' if ok else 'missed'}: {value:.3f} (target {op} {bound})"
    verdict = result.get("tpe_vs_random", {}).get("verdict", "n/a")
    out["tpe_better_than_random"] = f"{'met' if verdict == 'better' else 'not shown'}: {verdict}"
    return out
