"""cspsearch: architecture search and ablation reports for CSPNet (Cross Stage Partial networks).

Data flows one way: space file → SearchSpace → ModelConfig → nn.Module → MacReport and
TrainResult → Optuna storage → ReportData → HTML. The public API is imported lazily, so
``import cspsearch`` (and ``cspsearch --help``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_space": "cspsearch.space_file",
    "SearchSpace": "cspsearch.space",
    "ModelConfig": "cspsearch.configs",
    "TrainConfig": "cspsearch.configs",
    "DataConfig": "cspsearch.configs",
    "sample_config": "cspsearch.sampling",
    "build_model": "cspsearch.models",
    "count_macs": "cspsearch.macs",
    "load_dataset": "cspsearch.data",
    "train_briefly": "cspsearch.train",
    "Objective": "cspsearch.objective",
    "open_study": "cspsearch.study",
    "run_study": "cspsearch.study",
    "collect": "cspsearch.report",
    "write_report": "cspsearch.report",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'cspsearch' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
