"""The search report: study storage → ReportData (collect.py) → statistics (factors.py, with the
adjusted effects of effects.py; hypervolume.py) → figures (figures.py) and tables (tables.py) →
one offline HTML file (html.py), with where MACs mislead against latency_ort (deploy.py);
export.py and dashboard.py read the same data. No torch here.
``write_report`` and ``report_path`` are imported on first use, so reaching ``collect`` does not
import plotly."""

from __future__ import annotations

import importlib
from typing import Any

# Eager: the function must shadow its module's name (``from cspsearch.report import collect``).
from cspsearch.report.collect import ReportData
from cspsearch.report.collect import collect

_LAZY = {"report_path": "cspsearch.report.html", "write_report": "cspsearch.report.html"}
__all__ = ["ReportData", "collect", "report_path", "write_report"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'cspsearch.report' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
