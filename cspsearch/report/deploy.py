"""Where MACs mislead (no torch): for a study whose trials recorded both MACs and
``latency_ort`` (ONNX Runtime, cspsearch/measure/onnx.py), MACs against that latency coloured
by block (csp_yolo) or by fusion, Spearman's ρ between the two per group and over all, and the
architectures whose latency rank differs most from their MACs rank.

Every architecture counts once (duplicates left out); untrained over-budget ones count too,
since both figures are measured before training.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from html import escape
from typing import NamedTuple

import plotly.graph_objects as go

from cspsearch.report.collect import ReportData
from cspsearch.report.collect import TrialRow
from cspsearch.report.figures import BLOCK_COLORS
from cspsearch.report.figures import FUSION_COLORS
from cspsearch.report.figures import LAYOUT
from cspsearch.report.figures import pareto_figure

MOST = 5  # architectures listed whose two ranks differ most


class Rho(NamedTuple):
    group: str  # "block=c2f", "fusion=full" or "all"
    n: int
    rho: float | None  # None below 3 architectures or when one figure is constant


def measured(data: ReportData) -> list[TrialRow]:
    """Each architecture once, with both MACs and latency_ort."""
    return [
        r
        for r in data.rows
        if r.duplicate_of is None and r.macs is not None and r.latency_ort_ms is not None
    ]


def group_of(row: TrialRow, by_block: bool) -> str:
    if by_block:
        return f"block={row.params.get('block', _blocks(row))}"
    return f"fusion={row.fusion or 'none'}"


def _blocks(row: TrialRow) -> str:
    blocks = row.config.get("model", {}).get("block", ["csp"])
    return "/".join(sorted(set(blocks), key=blocks.index))


def by_block(rows: Sequence[TrialRow]) -> bool:
    """Group by block when the trials searched it (csp_yolo), else by fusion."""
    return any(k == "block" or k.startswith("block_") for r in rows for k in r.params)


def spearman(rows: Sequence[TrialRow]) -> float | None:
    if len(rows) < 3:
        return None
    macs, lat = [r.macs for r in rows], [r.latency_ort_ms for r in rows]
    if len(set(macs)) < 2 or len(set(lat)) < 2:
        return None
    from scipy.stats import spearmanr  # lazily: scipy.stats costs ~0.5 s at every run's end

    return float(spearmanr(macs, lat).statistic)


def rhos(rows: Sequence[TrialRow]) -> list[Rho]:
    """ρ(MACs, latency_ort) per group, then over all architectures."""
    block = by_block(rows)
    groups: dict[str, list[TrialRow]] = {}
    for r in rows:
        groups.setdefault(group_of(r, block), []).append(r)
    out = [Rho(g, len(members), spearman(members)) for g, members in sorted(groups.items())]
    return [*out, Rho("all", len(rows), spearman(rows))]


def rank_gaps(rows: Sequence[TrialRow], most: int = MOST) -> list[tuple[TrialRow, int, int]]:
    """(row, MACs rank, latency rank), the largest |difference| first (rank 1: smallest)."""
    from scipy.stats import rankdata

    mac_rank = rankdata([r.macs for r in rows], method="min")
    lat_rank = rankdata([r.latency_ort_ms for r in rows], method="min")
    ranked = [(r, int(m), int(t)) for r, m, t in zip(rows, mac_rank, lat_rank)]
    ranked.sort(key=lambda x: (-abs(x[1] - x[2]), x[0].number))
    return ranked[:most]


def mislead_figure(rows: Sequence[TrialRow]) -> go.Figure:
    """MMACs against latency_ort, one colour per block or fusion."""
    block, fig = by_block(rows), go.Figure()
    groups: dict[str, list[TrialRow]] = {}
    for r in rows:
        groups.setdefault(group_of(r, block), []).append(r)
    colors = BLOCK_COLORS if block else FUSION_COLORS
    for name, members in sorted(groups.items()):
        fig.add_trace(
            go.Scatter(
                x=[r.macs / 1e6 for r in members],
                y=[r.latency_ort_ms for r in members],
                mode="markers",
                name=name,
                marker=dict(size=9, color=colors.get(name.split("=", 1)[1], "#7f7f7f")),
                text=[f"trial {r.number}" for r in members],
                hovertemplate="%{text}<br>%{x:.3f} MMACs<br>%{y:.3f} ms<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis_title="MMACs per image (fvcore)",
        yaxis_title="latency_ort, ms at batch 1 (ONNX Runtime, CPU, median)",
        height=480,
        **LAYOUT,
    )
    return fig


def section(datasets: Sequence[ReportData], add: Callable[[go.Figure], str]) -> list[str]:
    """The report's "Where MACs mislead" parts, or none when no study measured latency_ort;
    ``add`` places a figure on the page."""
    if not any(len(measured(d)) >= 2 for d in datasets):
        return []
    parts = [
        f"<h2>{escape(datasets[0].metric)} vs latency in ONNX Runtime</h2>",
        add(pareto_figure(datasets, "latency_ort")),
    ]
    for data in datasets:
        rows = measured(data)
        if len(rows) < 2:
            continue
        threads = sorted({r.ort_threads for r in rows if r.ort_threads is not None})
        parts += [
            f"<h2>Where MACs mislead: {escape(data.study_name)}</h2>",
            f"<p class='meta'>latency_ort: ONNX Runtime, CPU execution provider, "
            f"{'/'.join(map(str, threads)) or '?'} thread(s), batch 1, median after warm-up, "
            "timed in turns with a fixed reference network and given at the study's scale "
            "(docs/deploying.md); each architecture once. ρ: Spearman's rank correlation of "
            "MACs and latency_ort (1: MACs order the architectures as the runtime does).</p>",
            add(mislead_figure(rows)),
            _rho_table(rhos(rows)),
            "<h3>Latency rank farthest from MACs rank</h3>",
            _gap_table(rank_gaps(rows)),
        ]
    return parts


def _rho_table(values: Sequence[Rho]) -> str:
    body = "".join(
        f"<tr><td class='t'>{escape(v.group)}</td><td>{v.n}</td>"
        f"<td>{'–' if v.rho is None else f'{v.rho:.2f}'}</td></tr>"
        for v in values
    )
    return (
        f"<table><tr><th class='t'>group</th><th>architectures</th><th>ρ</th></tr>{body}</table>"
    )


def _gap_table(gaps: Sequence[tuple[TrialRow, int, int]]) -> str:
    block = by_block([g[0] for g in gaps])
    body = "".join(
        f"<tr><td>{r.number}</td><td class='t'>{escape(group_of(r, block))}</td>"
        f"<td>{r.macs / 1e6:.3f}</td><td>{r.latency_ort_ms:.3f}</td><td>{m}</td><td>{t}</td>"
        f"<td>{t - m:+d}</td></tr>"
        for r, m, t in gaps
    )
    head = (
        "<tr><th>trial</th><th class='t'>group</th><th>MMACs</th><th>latency_ort ms</th>"
        "<th>MACs rank</th><th>latency rank</th><th>difference</th></tr>"
    )
    return f"<table>{head}{body}</table>"
