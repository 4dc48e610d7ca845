"""The plotly figures of an ablation study's page: each variant's paired score change against
its MACs change (with the interval of its verdict, from the row's Decision), and gradient
duplication per variant."""

from __future__ import annotations

import plotly.graph_objects as go

from cspsearch.ablate.read import AblationData
from cspsearch.ablate.tables import VariantStats
from cspsearch.ablate.tables import front


def change_figure(data: AblationData) -> go.Figure:
    """Δ score (points, paired by seed) against Δ MACs (%) per variant, one trace per base
    (and the pooled effect when there are several bases)."""
    fig = go.Figure()
    groups = [(t.base, t.rows) for t in data.tables]
    if len(data.tables) > 1:
        groups.append(("pooled", data.pooled))
    for name, rows in groups:
        shown = [v for v in rows if v.change is not None and v.macs_change is not None]
        if not shown:
            continue
        fig.add_trace(
            go.Scatter(
                x=[v.macs_change for v in shown],
                y=[v.change.diff.mean for v in shown],  # points
                error_y=_error(shown),
                mode="markers+text",
                text=[v.variant for v in shown],
                textposition="top center",
                name=name,
                marker={"size": 11 if name == "pooled" else 8},
                hovertemplate="%{text}: MACs %{x:+.1f}%, Δ %{y:+.2f} pp<extra>"
                + name
                + "</extra>",
            )
        )
    fig.add_hline(y=0, line_dash="dot", line_color="#888")
    fig.update_layout(
        title=f"{data.metric} change against {data.reference} (paired by seed; the interval its "
        "verdict was read from) vs MACs change",
        xaxis_title=f"MACs change against {data.reference} (%)",
        yaxis_title=f"Δ {data.metric} (percentage points)",
        template="plotly_white",
        height=480,
    )
    return fig


def front_figure(data: AblationData) -> go.Figure:
    """Each variant's mean score against its MACs change, one trace per base (and pooled), the
    front of each joined by a line: blocks differ in compute, so a block that loses accuracy
    may still be on the front."""
    fig = go.Figure()
    groups = [(t.base, t.rows) for t in data.tables]
    if len(data.tables) > 1:
        groups.append(("pooled", data.pooled))
    for name, rows in groups:
        shown = [v for v in rows if v.macs_change is not None]
        on = set(front(shown))
        ordered = sorted((v for v in shown if v.variant in on), key=lambda v: v.macs_change)
        trace = go.Scatter(
            x=[v.macs_change for v in shown],
            y=[100 * v.score.mean for v in shown],
            mode="markers+text",
            text=[v.variant + (" ★" if v.variant in on else "") for v in shown],
            textposition="top center",
            name=name,
            hovertemplate="%{text}: MACs %{x:+.1f}%, %{y:.1f}%<extra>" + name + "</extra>",
        )
        fig.add_trace(trace)
        fig.add_trace(
            go.Scatter(
                x=[v.macs_change for v in ordered],
                y=[100 * v.score.mean for v in ordered],
                mode="lines",
                line={"dash": "dot", "shape": "hv"},
                name=f"{name}: front",
            )
        )
    fig.update_layout(
        title=f"{data.metric} against MACs change (★: on the front of its base)",
        xaxis_title=f"MACs change against {data.reference} (%)",
        yaxis_title=f"{data.metric} (%)",
        template="plotly_white",
        height=480,
    )
    return fig


def gradient_figure(data: AblationData) -> go.Figure:
    """Mean gradient duplication per variant (95% interval over seeds), one bar group per base."""
    fig = go.Figure()
    for t in data.tables:
        shown = [v for v in t.rows if v.gradient is not None]
        fig.add_trace(
            go.Bar(
                x=[v.variant for v in shown],
                y=[v.gradient.mean for v in shown],
                error_y=_spread([v.gradient for v in shown]),
                name=t.base,
            )
        )
    fig.update_layout(
        title="gradient duplication per variant (mean over stages and seeds)",
        yaxis_title="gradient duplication",
        barmode="group",
        template="plotly_white",
        height=420,
    )
    return fig


def _error(rows: list[VariantStats]) -> dict:
    return _spread([v.change.diff for v in rows])  # points


def _spread(intervals: list, scale: float = 1.0) -> dict:
    """Asymmetric error bars from intervals; none where an interval has no spread."""
    up = [scale * (i.high - i.mean) if i.high is not None else 0 for i in intervals]
    down = [scale * (i.mean - i.low) if i.low is not None else 0 for i in intervals]
    return {"type": "data", "symmetric": False, "array": up, "arrayminus": down}
