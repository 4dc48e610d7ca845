"""ReportData → one self-contained HTML file (plotly.js embedded; opens offline).

Every string from the study (names, parameters, reasons) is escaped before it reaches the page.
"""

from __future__ import annotations

import re
from collections import Counter
from html import escape
from pathlib import Path
from typing import Any

import plotly.io as pio

from cspsearch.report.collect import ReportData
from cspsearch.report.collect import TrialRow
from cspsearch.report.figures import pareto_figure

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:2em} .meta{color:#555;font-size:.92em}
table{border-collapse:collapse;font-size:.85em;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0} td.t,th.t{text-align:left}
tr.pareto{background:#fff4e5} tr.failed{color:#a00} tr.infeasible{color:#888}
"""

# Click a header to sort by it; numeric cells carry data-v.
SORT_JS = """
document.querySelectorAll('table.sortable th').forEach((th, i) =>
 th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0], up = th.dataset.dir !== 'up';
  th.dataset.dir = up ? 'up' : 'down';
  const key = r => { const c = r.cells[i];
    return c.dataset.v !== undefined ? +c.dataset.v : c.textContent; };
  [...body.rows].sort((a, b) => { const x = key(a), y = key(b);
    return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); }).forEach(r => body.appendChild(r));
}));
"""

COLUMNS = (
    "trial",
    "state",
    "fusion",
    "parameters",
    "val acc",
    "test acc",
    "MMACs",
    "MFLOPs",
    "params",
    "Pareto",
    "seconds",
    "note",
)


def report_path(study_name: str, folder: str | Path = "reports") -> Path:
    """Where a study's report goes by default; the name cannot leave the folder."""
    return Path(folder) / (re.sub(r"[^A-Za-z0-9_.-]", "_", study_name).lstrip(".") + ".html")


def write_report(data: ReportData, path: str | Path) -> Path:
    """Write the report for ``data`` to ``path`` (folders created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(path)  # no half-written report if rendering fails
    return path


def render(data: ReportData) -> str:
    """The whole page as a string."""
    figure = pio.to_html(
        pareto_figure(data), include_plotlyjs=True, full_html=False, config={"displaylogo": False}
    )
    title = escape(f"cspsearch report: {data.study_name}")
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>{_header(data)}"
        f"<h2>Accuracy vs compute</h2>{figure}<h2>Trials</h2>{_table(data.rows)}"
        f"<script>{SORT_JS}</script></body></html>"
    )


def _header(data: ReportData) -> str:
    failed = Counter(
        r.fail_reason.split(":")[0] or "unknown" for r in data.rows if r.state == "failed"
    )
    n = {
        "trials": len(data.rows),
        "evaluated": data.count(lambda r: r.evaluated),
        "baselines (fusion=none)": data.count(lambda r: r.evaluated and r.baseline),
        "over budget (not trained)": data.count(lambda r: r.infeasible),
        "failed": sum(failed.values()),
        "on the Pareto front": data.count(lambda r: r.pareto),
    }
    counts = ", ".join(f"{v} {k}" for k, v in n.items())
    reasons = "; ".join(f"{k} × {v}" for k, v in failed.items())
    objectives = ", ".join(f"{k} ({v})" for k, v in data.objectives.items())
    budget = ", ".join(f"{k} ≤ {v:,.0f}" for k, v in data.budget.items()) or "none"
    versions = ", ".join(f"{k} {v}" for k, v in data.versions.items())
    lines = [
        f"space <b>{escape(data.space_name)}</b> · dataset {escape(_dataset(data.data))}",
        f"objectives {escape(objectives)} · budget {escape(budget)}",
        f"{escape(counts)}" + (f" (failures: {escape(reasons)})" if reasons else ""),
        f"device {escape(data.device)} · {escape(versions)}",
        "MACs are fvcore's count (one fused multiply-add = 1 MAC) at batch 1 in eval mode; "
        "FLOPs = 2 × MACs. The paper's BFLOPs are 2 × convolution MACs.",
    ]
    return "".join(f"<p class='meta'>{line}</p>" for line in lines)


def _dataset(d: dict[str, Any]) -> str:
    if not d:
        return "unknown"
    val, test = d.get("val_fraction", 0), d.get("test_fraction", 0)
    return (
        f"{d.get('dataset')} at {d.get('input_size')}×{d.get('input_size')}, split "
        f"{1 - val - test:.0%} train / {val:.0%} validation / {test:.0%} test "
        f"(seed {d.get('split_seed')})"
    )


def _table(rows: list[TrialRow]) -> str:
    head = "".join(
        f"<th class='{'t' if c in ('state', 'fusion', 'parameters', 'note') else ''}'>{c}</th>"
        for c in COLUMNS
    )
    body = "".join(_tr(r) for r in rows)
    return f"<table class='sortable'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _tr(r: TrialRow) -> str:
    params = ", ".join(f"{k}={v}" for k, v in sorted(r.params.items()))
    note = (
        r.fail_reason
        or (f"over budget: {r.infeasible}" if r.infeasible else "")
        or (f"same architecture as trial {r.duplicate_of}" if r.duplicate_of is not None else "")
    )
    cells = [
        _num(r.number, str(r.number)),
        _text(r.state),
        _text(r.fusion),
        _text(params),
        _num(r.val_accuracy, "{:.4f}"),
        _num(r.test_accuracy, "{:.4f}"),
        _num(r.macs and r.macs / 1e6, "{:.3f}"),
        _num(r.flops and r.flops / 1e6, "{:.3f}"),
        _num(r.n_params, "{:,}"),
        _text("✓" if r.pareto else ""),
        _num(r.seconds, "{:.1f}"),
        _text(note),
    ]
    cls = (
        "pareto"
        if r.pareto
        else r.state
        if r.state == "failed"
        else ("infeasible" if r.infeasible else "")
    )
    return f"<tr class='{cls}'>{''.join(cells)}</tr>"


def _num(value: Any, fmt: str) -> str:
    if value is None:
        return "<td data-v='-1'>–</td>"
    shown = fmt.format(value) if "{" in fmt else fmt
    return f"<td data-v='{float(value)}'>{escape(shown)}</td>"


def _text(value: str) -> str:
    return f"<td class='t'>{escape(value)}</td>"
