"""cspsearch: architecture search and ablation reports for CSPNet (Cross Stage Partial networks).

Data flows one way, one package a step: space (a file → SearchSpace → one trial's configs) →
models (ModelConfig → nn.Module) → measure (MACs, latency) → training (the one loop, precision,
the Task interface) → classification / detection (the tasks) → trials (objective, study, runs)
→ report (storage → ReportData → HTML) → ablate (the controlled experiment and its page) → bench
→ cli. Leaves any step may use: errors.py, stats.py, pareto.py, compat.py (every private Optuna
and fvcore name). The public API is imported lazily, so ``import cspsearch`` (and ``cspsearch
--help``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_space": "cspsearch.space.loader",
    "SearchSpace": "cspsearch.space.searchspace",
    "ModelConfig": "cspsearch.space.configs",
    "TrainConfig": "cspsearch.space.configs",
    "DataConfig": "cspsearch.space.configs",
    "sample_config": "cspsearch.space.sampling",
    "build_model": "cspsearch.models",
    "count_macs": "cspsearch.measure.macs",
    "fit": "cspsearch.training.loop",
    "Task": "cspsearch.training.task",
    "get_task": "cspsearch.training.task",
    "load_dataset": "cspsearch.classification.data",
    "train_briefly": "cspsearch.classification.task",
    "Objective": "cspsearch.trials.objective",
    "search": "cspsearch.trials.run",
    "RunOptions": "cspsearch.trials.run",
    "open_study": "cspsearch.trials.study",
    "run_study": "cspsearch.trials.study",
    "collect": "cspsearch.report.collect",
    "write_report": "cspsearch.report.html",
    "report_path": "cspsearch.report.html",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'cspsearch' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
