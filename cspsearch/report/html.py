"""ReportData → one self-contained HTML file (plotly.js embedded once; opens offline).

Sections: header per study, Pareto fronts (vs MACs and vs parameters), hypervolume history,
per-factor effect tables, paired one-factor comparisons, importance and parallel coordinates,
Pareto-optimal architectures, all trials. Several studies are overlaid in the figures and shown
side by side in the tables. Every string from a study is escaped before it reaches the page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from cspsearch.report import tables
from cspsearch.report.collect import ReportData
from cspsearch.report.deploy import section as deploy_section
from cspsearch.report.effects import HOW
from cspsearch.report.factors import factor_tables
from cspsearch.report.factors import paired_comparisons
from cspsearch.report.figures import hypervolume_figure
from cspsearch.report.figures import importance_figure
from cspsearch.report.figures import parallel_figure
from cspsearch.report.figures import pareto_figure
from cspsearch.report.tables import safe_name
from cspsearch.stats import ALPHA
from cspsearch.stats import DEFAULT_MARGIN

ABLATE_HINT = (
    "For a controlled answer run `cspsearch ablate STUDY`: it trains every fusion × γ on the "
    "same base architectures with paired seeds."
)

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1280px;color:#222;padding:0 12px}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:2.2em} h3{font-size:1em;margin:1.2em 0 .3em}
.meta{color:#555;font-size:.92em;margin:.2em 0} .side{display:flex;gap:24px;flex-wrap:wrap}
.side>div{flex:1;min-width:420px} code{font-size:.85em} pre{background:#f6f6f6;padding:8px}
table{border-collapse:collapse;font-size:.85em;width:100%}
th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0} td.t,th.t{text-align:left}
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


def report_path(study_name: str, folder: str | Path = "reports") -> Path:
    """Where a study's report goes by default; the name cannot leave the folder."""
    return Path(folder) / f"{safe_name(study_name)}.html"


def write_report(
    data: ReportData | Sequence[ReportData], path: str | Path, margin: float = DEFAULT_MARGIN
) -> Path:
    """Write the report of one study (or several, overlaid) to ``path`` and return it; the
    verdicts are decided against ±``margin`` points (0: better / worse / undecided only)."""
    datasets = [data] if isinstance(data, ReportData) else list(data)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render(datasets, margin), encoding="utf-8")
    tmp.replace(path)  # no half-written report if rendering fails
    return path


def render(datasets: Sequence[ReportData], margin: float = DEFAULT_MARGIN) -> str:
    """The whole page as a string."""
    fig = _Figures()
    title = escape("cspsearch report: " + " vs ".join(d.study_name for d in datasets))
    parts = [
        f"<h1>{title}</h1>",
        *(_header(d, len(datasets) > 1) for d in datasets),
        f"<h2>{escape(datasets[0].metric)} vs compute</h2>",
        fig.add(pareto_figure(datasets, "macs")),
        fig.add(pareto_figure(datasets, "params")),
        *([fig.add(pareto_figure(datasets, "latency"))] if _measured(datasets) else []),
        *deploy_section(datasets, fig.add),  # latency_ort: where MACs mislead
        "<h2>Hypervolume history</h2>",
        fig.add(hypervolume_figure(datasets)),
        "<h2>Per-factor effects</h2>",
        _factor_section(datasets, margin),
        "<h2>Paired comparisons (architectures that differ in one factor only)</h2>",
        "<p class='meta'>Each pair holds every other searched factor equal; Δ is the mean of "
        "the pairs' differences with the interval its verdict was read from (level beside it) "
        f"and the adjusted p of Δ = 0. {escape(rule_words(margin))}, each factor's "
        "comparisons one family.</p>",
        _side(
            datasets,
            [tables.comparison_table(paired_comparisons(d.rows, margin=margin)) for d in datasets],
        ),
        "<h2>Parameter importance</h2>",
        _side(
            datasets,
            [
                fig.add(importance_figure(d))
                if d.importances
                else "<p>Too few evaluated trials.</p>"
                for d in datasets
            ],
        ),
        "<h2>Parallel coordinates</h2>",
        _side(datasets, [fig.add(parallel_figure(d)) for d in datasets]),
        "<h2>Pareto-optimal architectures</h2>",
        _side(datasets, [tables.pareto_architectures(d) for d in datasets]),
        "<h2>All trials</h2>",
        _side(datasets, [tables.trials_table(d.rows, d.metric) for d in datasets]),
    ]
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}"
        f"<script>{SORT_JS}</script></body></html>"
    )


def _measured(datasets: Sequence[ReportData]) -> bool:
    return any(r.latency_ms is not None for d in datasets for r in d.rows if r.evaluated)


class _Figures:
    """Figures as HTML divs; plotly.js goes into the first one only."""

    def __init__(self) -> None:
        self.first = True

    def add(self, fig: go.Figure) -> str:
        html = pio.to_html(
            fig, include_plotlyjs=self.first, full_html=False, config={"displaylogo": False}
        )
        self.first = False
        return html


def _side(datasets: Sequence[ReportData], parts: list[str]) -> str:
    """One study's part as it is; several side by side under their names."""
    if len(datasets) == 1:
        return parts[0]
    cells = "".join(
        f"<div><h3>{escape(d.study_name)}</h3>{p}</div>" for d, p in zip(datasets, parts)
    )
    return f"<div class='side'>{cells}</div>"


def rule_words(margin: float) -> str:
    """How the page's verdicts are decided, in one sentence (docs/verdicts.md)."""
    how = f"a paired t-test (sd floored at the step/√6), α = {ALPHA:g} over each family of k (α/k)"
    if not margin:
        return f"Verdicts: better / worse / undecided by {how}"
    return (
        f"Verdicts: equivalent within ±{margin:g} points (TOST) / better / worse / "
        f"non-inferior / undecided by {how}"
    )


def _factor_section(datasets: Sequence[ReportData], margin: float) -> str:
    per_study = [factor_tables(d.rows, margin=margin) for d in datasets]
    out = [
        "<p class='meta'>Reference: the plain network (fusion=none) for fusion and "
        "split_ratio, as in the paper; the lowest level for other factors. Each architecture "
        "counts once, and only trials trained to the end count. <b>Raw</b> columns average the "
        "trials that have the level (95% Student-t interval of the mean, clipped to 0–100%); "
        "those trials also differ in every other factor, so a raw change (MACs in percent, "
        "accuracy in points) is not an effect. <b>Adjusted</b> Δ: "
        f"{escape(HOW)}; the interval its verdict was read from (level beside it). "
        f"{escape(rule_words(margin))}, each factor's levels one family.</p>",
        f"<p class='meta'>{escape(ABLATE_HINT)}</p>",
    ]
    for factor in sorted({f for t in per_study for f in t}):
        out.append(f"<h3>{escape(factor)}</h3>")
        out.append(
            _side(
                datasets,
                [
                    tables.factor_table(t[factor], datasets[0].metric)
                    if factor in t
                    else "<p>not searched</p>"
                    for t in per_study
                ],
            )
        )
    return "".join(out)


def _header(data: ReportData, named: bool) -> str:
    failed = Counter(
        r.fail_reason.split(":")[0] or "unknown" for r in data.rows if r.state == "failed"
    )
    n = {
        "trials": len(data.rows),
        "evaluated": data.count(lambda r: r.evaluated),
        "in statistics (distinct, trained to the end)": data.count(lambda r: r.in_statistics),
        "baselines (fusion=none)": data.count(lambda r: r.in_statistics and r.baseline),
        "stopped early, not in statistics": data.count(
            lambda r: r.evaluated and r.stopped_at is not None
        ),
        "repeats of an earlier architecture (counted once)": data.count(
            lambda r: r.evaluated and r.stopped_at is None and r.duplicate_of is not None
        ),
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
        f"{'<b>' + escape(data.study_name) + '</b> · ' if named else ''}"
        f"space <b>{escape(data.space_name)}</b> · dataset {escape(_dataset(data.data))}",
        f"objectives {escape(objectives)} · budget {escape(budget)}",
        escape(counts) + (f" (failures: {escape(reasons)})" if reasons else ""),
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
