"""ReportData → plotly figures (the only module of the report that imports plotly)."""

from __future__ import annotations

import plotly.graph_objects as go

from cspsearch.report.collect import ReportData
from cspsearch.report.collect import TrialRow

FUSION_COLORS = {"none": "#222222", "first": "#1f77b4", "last": "#ff7f0e", "full": "#2ca02c"}


def hover(r: TrialRow) -> str:
    """One trial's architecture and numbers, for a point's hover box."""
    params = "<br>".join(f"{k} = {v}" for k, v in sorted(r.params.items()))
    return (
        f"trial {r.number} ({'baseline' if r.baseline else 'CSP'})<br>{params}<br>"
        f"val accuracy {_fmt(r.val_accuracy, '.4f')}, test {_fmt(r.test_accuracy, '.4f')}<br>"
        f"{_fmt(r.macs and r.macs / 1e6, '.3f')} MMACs, {_fmt(r.n_params, ',')} params"
    )


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def pareto_figure(data: ReportData) -> go.Figure:
    """Validation accuracy vs MACs: every evaluated trial by fusion, the fusion=none baselines
    marked, the Pareto front as a step line and the MAC budget as a dashed line."""
    fig = go.Figure()
    rows = [r for r in data.rows if r.evaluated]
    for fusion in sorted({r.fusion for r in rows}, key=lambda f: (f != "none", f)):
        group = [r for r in rows if r.fusion == fusion]
        baseline = fusion == "none"
        fig.add_trace(
            go.Scatter(
                x=[r.macs / 1e6 for r in group],
                y=[r.val_accuracy for r in group],
                mode="markers",
                name="baseline (fusion=none)" if baseline else f"fusion={fusion}",
                marker=dict(
                    color=FUSION_COLORS.get(fusion, "#9467bd"),
                    symbol="diamond" if baseline else "circle",
                    size=12 if baseline else 9,
                    line=dict(width=1.5 if baseline else 0.5, color="white"),
                ),
                text=[hover(r) for r in group],
                hoverinfo="text",
            )
        )
    front = sorted((r for r in rows if r.pareto), key=lambda r: r.macs)
    if front:
        fig.add_trace(
            go.Scatter(
                x=[r.macs / 1e6 for r in front],
                y=[r.val_accuracy for r in front],
                mode="lines",
                name="Pareto front",
                line=dict(shape="hv", color="#d62728", width=2),
                hoverinfo="skip",
            )
        )
    if "macs" in data.budget:
        fig.add_vline(
            x=data.budget["macs"] / 1e6,
            line_dash="dash",
            line_color="#888888",
            annotation_text="MAC budget",
            annotation_position="top left",
        )
    fig.update_layout(
        xaxis_title="MMACs per image (fvcore: 1 multiply-add = 1 MAC; FLOPs = 2 × MACs)",
        yaxis_title="validation accuracy",
        template="plotly_white",
        height=560,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        margin=dict(t=60),
    )
    return fig
