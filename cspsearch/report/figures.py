"""ReportData → plotly figures (the only module of the report that imports plotly).

With one study, points are coloured by fusion, or by block when the study searches the block
(the csp_yolo family); with several (``cspsearch report A B``) they are
coloured by study, and the plain-network baselines are diamonds either way. Early-stopped
trials (partial accuracy, not in statistics) are grey crosses apart from the front, and
overlaid hypervolume curves share one reference point, named in the figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from cspsearch.pareto import pareto_mask
from cspsearch.report.collect import ReportData
from cspsearch.report.collect import TrialRow
from cspsearch.report.hypervolume import hypervolume_history
from cspsearch.report.hypervolume import reference_point
from cspsearch.report.hypervolume import same_objectives

FUSION_COLORS = {"none": "#222222", "first": "#1f77b4", "last": "#ff7f0e", "full": "#2ca02c"}
BLOCK_COLORS = {"csp": "#2ca02c", "c3": "#1f77b4", "c2f": "#ff7f0e", "c3k2": "#9467bd",
                "elan": "#8c564b", "gelan": "#e377c2"}  # fmt: skip
STUDY_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b"]
COMPUTE = {  # x axis → (row field, scale, label)
    "macs": ("macs", 1e-6, "MMACs per image (fvcore: 1 multiply-add = 1 MAC; FLOPs = 2 × MACs)"),
    "params": ("n_params", 1e-3, "parameters, thousands (PyTorch count, BatchNorm included)"),
    "latency": ("latency_ms", 1.0, "latency, ms per image at batch 1 (median, on the device)"),
    "latency_ort": ("latency_ort_ms", 1.0, "latency_ort, ms at batch 1 (ONNX Runtime, CPU)"),
}
LAYOUT = dict(
    template="plotly_white",
    legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    margin=dict(t=60, l=60, r=20, b=60),
)


def hover(r: TrialRow, metric: str = "accuracy") -> str:
    """One trial's architecture and numbers, for a point's hover box."""
    params = "<br>".join(f"{k} = {v}" for k, v in sorted(r.params.items()))
    return (
        f"trial {r.number} ({'baseline' if r.baseline else 'CSP'})<br>{params}<br>"
        f"val {metric} {_fmt(r.score, '.4f')}, test {_fmt(r.test_score, '.4f')}<br>"
        f"{_fmt(r.macs and r.macs / 1e6, '.3f')} MMACs, {_fmt(r.n_params, ',')} params"
    )


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def pareto_figure(datasets: Sequence[ReportData], x: str = "macs") -> go.Figure:
    """Validation accuracy against compute ``x``: evaluated trials, baselines marked, each
    study's Pareto front (recomputed for this pair of axes, from trials trained to the end) as
    a step line, and early-stopped trials apart as grey crosses."""
    field, scale, label = COMPUTE[x]
    fig, many = go.Figure(), len(datasets) > 1
    for k, data in enumerate(datasets):
        shown = [r for r in data.rows if r.evaluated and getattr(r, field) is not None]
        rows = [r for r in shown if r.stopped_at is None]
        stopped = [r for r in shown if r.stopped_at is not None]
        for name, group, base, color in _groups(rows):
            color = STUDY_COLORS[k % 5] if many else color
            fig.add_trace(
                go.Scatter(
                    x=[getattr(r, field) * scale for r in group],
                    y=[r.score for r in group],
                    mode="markers",
                    name=f"{data.study_name}: {name}" if many else name,
                    marker=dict(
                        color=color,
                        symbol="diamond" if base else "circle",
                        size=12 if base else 9,
                        line=dict(width=1, color="white"),
                    ),
                    text=[hover(r, data.metric) for r in group],
                    hoverinfo="text",
                )
            )
        if stopped:
            fig.add_trace(_stopped_trace(stopped, field, scale, data, many))
        mask = pareto_mask([[r.score, getattr(r, field)] for r in rows], ["maximize", "minimize"])
        front = sorted((r for r, m in zip(rows, mask) if m), key=lambda r: getattr(r, field))
        fig.add_trace(
            go.Scatter(
                x=[getattr(r, field) * scale for r in front],
                y=[r.score for r in front],
                mode="lines",
                name=f"{data.study_name}: Pareto front" if many else "Pareto front",
                line=dict(shape="hv", width=2, color=STUDY_COLORS[k % 5] if many else "#d62728"),
                hoverinfo="skip",
            )
        )
    limit = datasets[0].budget.get(x) if datasets else None
    if limit:
        fig.add_vline(
            x=limit * scale,
            line_dash="dash",
            line_color="#888888",
            annotation_text="budget",
            annotation_position="top left",
        )
    fig.update_layout(
        xaxis_title=label, yaxis_title=f"validation {datasets[0].metric}", height=520, **LAYOUT
    )
    return fig


def _groups(rows: Sequence[TrialRow]) -> list[tuple[str, list[TrialRow], bool, str]]:
    """(legend name, rows, baseline?, colour) per group: the baselines, then by block when the
    trials searched it, else by fusion."""
    if any("block" in r.params for r in rows):
        out = [("baseline (fusion=none)", [r for r in rows if r.baseline], True, "#222222")]
        blocks = sorted({str(r.params.get("block", "csp")) for r in rows if not r.baseline})
        for b in blocks:
            group = [r for r in rows if not r.baseline and r.params.get("block", "csp") == b]
            out.append((f"block={b}", group, False, BLOCK_COLORS.get(b, "#7f7f7f")))
        return [g for g in out if g[1]]
    out = []
    for fusion in sorted({r.fusion for r in rows}, key=lambda f: (f != "none", f)):
        group = [r for r in rows if r.fusion == fusion]
        base = fusion == "none"
        name = "baseline (fusion=none)" if base else f"fusion={fusion}"
        out.append((name, group, base, FUSION_COLORS.get(fusion, "#9467bd")))
    return out


def _stopped_trace(
    rows: list[TrialRow], field: str, scale: float, data: ReportData, many: bool
) -> go.Scatter:
    name = "stopped early (partial accuracy, not in statistics)"
    return go.Scatter(
        x=[getattr(r, field) * scale for r in rows],
        y=[r.score for r in rows],
        mode="markers",
        name=f"{data.study_name}: {name}" if many else name,
        marker=dict(color="#bbbbbb", symbol="x", size=7, opacity=0.7),
        text=[f"{hover(r, data.metric)}<br>stopped at epoch {r.stopped_at}" for r in rows],
        hoverinfo="text",
    )


def hypervolume_figure(datasets: Sequence[ReportData]) -> go.Figure:
    """Hypervolume of each study's trials in statistics after every finished trial; overlaid
    studies with the same objectives share one reference point, named in the title."""
    fig = go.Figure()
    shared = reference_point(datasets) if datasets and same_objectives(datasets) else None
    for k, data in enumerate(datasets):
        numbers, volumes, ref = hypervolume_history(data, shared)
        own = "" if shared is not None else f" (reference {_ref_text(data, ref)})"
        fig.add_trace(
            go.Scatter(
                x=numbers,
                y=volumes,
                mode="lines+markers",
                name=f"{data.study_name}{own}",
                line=dict(color=STUDY_COLORS[k % 5], shape="hv"),
            )
        )
    if shared is not None and len(datasets[0].objectives) == 2:
        whose = "shared by all studies" if len(datasets) > 1 else "this study's"
        title = f"reference point {_ref_text(datasets[0], shared)} ({whose})"
    else:
        title = "each study with its own reference point: objectives differ, not comparable"
    fig.update_layout(
        title=dict(text=title, font=dict(size=13)),
        xaxis_title="trial",
        yaxis_title=f"hypervolume ({datasets[0].metric} × MACs)",
        height=380,
        **LAYOUT,
    )
    return fig


def _ref_text(data: ReportData, ref: list[float]) -> str:
    return ", ".join(f"{n} {v:,.4g}" for n, v in zip(data.objectives, ref))


def importance_figure(data: ReportData) -> go.Figure:
    """PED-ANOVA parameter importance per objective, as horizontal bars."""
    fig = go.Figure()
    for name, values in data.importances.items():
        params = sorted(values, key=values.get)
        fig.add_trace(go.Bar(x=[values[p] for p in params], y=params, orientation="h", name=name))
    fig.update_layout(
        barmode="group",
        xaxis_title="importance (PED-ANOVA, normalised)",
        height=120 + 40 * max((len(v) for v in data.importances.values()), default=1),
        **LAYOUT,
    )
    return fig


def parallel_figure(data: ReportData) -> go.Figure:
    """Parallel coordinates of the searched parameters, accuracy and MACs; colour = accuracy.
    Trials in statistics only (no duplicates, no partial accuracies)."""
    rows = [r for r in data.rows if r.in_statistics]
    dims = []
    for param in sorted({k for r in rows for k in r.params}):
        values = [r.params.get(param) for r in rows]
        levels = sorted({v for v in values if v is not None}, key=str)
        numeric = all(isinstance(v, (int, float)) for v in levels)
        ticks, text = levels if numeric else list(range(len(levels))), [str(v) for v in levels]
        if None in values:  # e.g. split_ratio of an unsplit (fusion=none) trial
            ticks, text = [-1, *ticks], ["–", *text]
        dims.append(
            dict(
                label=param,
                tickvals=ticks,
                ticktext=text,
                values=[
                    (v if numeric else levels.index(v)) if v is not None else -1 for v in values
                ],
            )
        )
    dims.append(dict(label="MMACs", values=[r.macs / 1e6 for r in rows]))
    accuracy = [r.score for r in rows]
    dims.append(dict(label=f"val {data.metric}", values=accuracy))
    fig = go.Figure(
        go.Parcoords(
            line=dict(color=accuracy, colorscale="Viridis", showscale=True), dimensions=dims
        )
    )
    fig.update_layout(height=420, margin=dict(t=60, l=60, r=60, b=30), template="plotly_white")
    return fig
