"""The bench's GPU figures (issue 26): the bench network's eager and graphed step times, a
default csp_efm trial's time and its evaluation share, and the default study's trials per
minute and mean GPU utilisation at the chosen trials per device. Without a GPU every figure is
``n/a (no GPU)`` and nothing here runs (or waits on a device that is not there)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

NA = "n/a (no GPU)"
KEYS = (
    "gpu_step_eager_ms",
    "gpu_step_graphed_ms",
    "gpu_efm_trial_s",
    "gpu_efm_evaluation_fraction",
    "gpu_study_trials_per_minute",
    "gpu_study_utilisation",
    "gpu_trials_per_device",
)


def gpu_figures(device: str, configs: list[Any], data: Any) -> dict[str, Any]:
    """Every GPU figure, or ``n/a (no GPU)`` for each when ``device`` is not CUDA. ``configs``:
    the bench's (model, train) configs, the first is the bench network; ``data`` its dataset."""
    if not (device.startswith("cuda") and torch.cuda.is_available()):
        return dict.fromkeys(KEYS, NA)
    out: dict[str, Any] = {}
    model_cfg, train_cfg = configs[0][0], configs[0][1]
    for graphs, key in ((False, "gpu_step_eager_ms"), (True, "gpu_step_graphed_ms")):
        out[key] = step_ms(model_cfg, train_cfg, data, device, graphs)
    out.update(efm_trial(device))
    out.update(study_rate(device))
    return out


def step_ms(model_cfg: Any, cfg: Any, data: Any, device: str, graphs: bool, n: int = 50) -> float:
    """Mean time of ``n`` training steps (after the capture and a warm-up), ms."""
    from cspsearch.classification.task import classification_hooks
    from cspsearch.models.registry import build_model
    from cspsearch.training.graphs import make_step
    from cspsearch.training.loop import make_optimizer

    torch.manual_seed(0)
    model = build_model(model_cfg).to(device)
    hooks = classification_hooks(data)
    optimizer = make_optimizer(model, cfg, torch.device(device), graphs)
    step = make_step(model, hooks.loss, optimizer, cfg.precision, torch.device(device), graphs)
    g = torch.Generator().manual_seed(0)
    idx = torch.arange(cfg.batch_size, device=device)
    x, target = hooks.batch(idx, g)
    for _ in range(5):
        step(x, target)
    torch.cuda.synchronize(device)
    began = time.perf_counter()
    for _ in range(n):
        step(x, target)
    torch.cuda.synchronize(device)
    return (time.perf_counter() - began) / n * 1000


def efm_trial(device: str) -> dict[str, float]:
    """One default csp_efm trial: its wall time and the share outside optimisation steps
    (precise BN, the per-epoch AP on the device, pycocotools' final validation and test)."""
    import cspsearch
    from cspsearch.space.loader import load_space

    with tempfile.TemporaryDirectory() as tmp:
        options = cspsearch.RunOptions(device=device, artifacts=Path(tmp) / "a")
        study = cspsearch.search(
            load_space("csp_efm"), n_trials=1, storage=f"sqlite:///{tmp}/e.db", options=options
        )
    a = study.trials[0].user_attrs
    share = 1 - a["step_time_s"] / a["train_time_s"]
    return {"gpu_efm_trial_s": a["trial_time_s"], "gpu_efm_evaluation_fraction": share}


def study_rate(device: str, n_trials: int = 30) -> dict[str, Any]:
    """`cspsearch run --space csp_densenet` for ``n_trials`` trials at the trials per device
    the run picks: trials per minute (the run's wall time, data load included) and the mean
    GPU utilisation sampled meanwhile."""
    from cspsearch.bench.machine import GpuSampler

    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "cspsearch", "run", "--space", "csp_densenet"]
        command += ["--n-trials", str(n_trials), "--device", device]
        command += ["--storage", f"{tmp}/s.log", "--artifacts", f"{tmp}/a"]
        with GpuSampler(device) as gpu:
            began = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, timeout=900)
            took = time.perf_counter() - began
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return {"gpu_study_trials_per_minute": f"n/a (run failed: {tail})"}
    chosen = next(
        (ln.split(":", 1)[1].strip() for ln in done.stderr.splitlines() if "trials per" in ln),
        "as the run chose",
    )
    return {
        "gpu_study_trials_per_minute": n_trials / took * 60,
        "gpu_study_utilisation": gpu.mean,
        "gpu_trials_per_device": chosen,
    }
