"""Ablation reports: study storage → ReportData (collect.py) → statistics (ablation.py) →
figures (figures.py) → one offline HTML file (html.py); export.py and dashboard.py read the same
data. No torch here. Names are imported on first use, so reaching ``collect`` does not import
plotly."""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "ReportData": "cspsearch.report.collect",
    "collect": "cspsearch.report.collect",
    "report_path": "cspsearch.report.html",
    "write_report": "cspsearch.report.html",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'cspsearch.report' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
