"""An ablation study's page (``cspsearch report STUDY-ablation``): one self-contained HTML file
with the Table 1 of every base, the pooled effect of each variant and its figures."""

from __future__ import annotations

from html import escape
from pathlib import Path

import plotly.io as pio

from cspsearch.ablate.figures import change_figure
from cspsearch.ablate.figures import front_figure
from cspsearch.ablate.figures import gradient_figure
from cspsearch.ablate.read import AblationData
from cspsearch.ablate.tables import VariantStats
from cspsearch.ablate.tables import front
from cspsearch.ablate.text import LATENCY_NOTE
from cspsearch.ablate.text import base_title
from cspsearch.ablate.text import cells
from cspsearch.ablate.text import family_text
from cspsearch.ablate.text import head
from cspsearch.ablate.text import pooled_title
from cspsearch.report.html import STYLE

VERDICT_COLOURS = {
    "better": "#1a7f37",
    "worse": "#cf222e",
    "equivalent": "#0969da",
    "non-inferior": "#8250df",
}
EXPLAIN = (
    "Each base is trained as the plain network (none) and as every CSP variant (fusion/γ on its "
    "CSP stages), everything else equal, once per seed. MACs and parameters change against none "
    "(fvcore MACs: one multiply-add = 1; FLOPs = 2 × MACs). {m}: mean over seeds with its 95% "
    "Student-t interval. Δ {m}: the variant minus none for the same seed, averaged over the "
    "seeds. The verdict (docs/verdicts.md) and its interval come from one paired t-test whose "
    "sd is floored at the score's step/√6; each table is one family of k tested rows, each at "
    "α/k (Bonferroni): equivalent when the 1 − 2α/k interval lies inside ±margin, better or "
    "worse when the 1 − α/k interval excludes 0, non-inferior when the 1 − 2α/k interval lies "
    "above −margin, else undecided; the row shows the interval its verdict was read from and "
    "its level. The paper's columns (PeleeNet on ImageNet, CSPNet Table 1) stand beside "
    "a PeleeNet-like base: its compute change is in BFLOPs (2 × conv MACs), its top-1 change in "
    "points from one run each."
)
EXPLAIN_DETECTION = (
    "Each base backbone (fusion and γ included) is trained under every detector of the grid: "
    "the plain FPN (the reference), GFM and EFM, then EFM with one option each (Maxout, SPP, SAM "
    "or SE attention), everything else equal, once per seed — CSPNet's Table 2. MACs and "
    "parameters change against fpn (fvcore MACs: one multiply-add = 1). {m}: mean over seeds "
    "with its 95% Student-t interval. Δ {m}: the variant minus fpn for the same seed, averaged "
    "over the seeds, with its verdict's interval; verdicts as for Table 1 (docs/verdicts.md)."
)

EXPLAIN_BLOCK = (
    "Each base is trained with its own block (base) and with every CSP block of the grid in "
    "every stage, at the base's widths, depths and strides, everything else equal, once per "
    "seed. MACs and parameters change against the base (fvcore MACs: one multiply-add = 1). "
    "{m}: mean over seeds with its 95% Student-t interval. Δ {m}: the block minus the base for "
    "the same seed, averaged over the seeds, with its verdict's interval (docs/verdicts.md). "
    "Blocks differ in compute: "
    "the figure of {m} against MACs shows which blocks are on the front."
)
EXPLAIN_BY_KIND = {"csp": EXPLAIN, "detector": EXPLAIN_DETECTION, "block": EXPLAIN_BLOCK}


def write_ablation_report(data: AblationData, path: str | Path) -> Path:
    """Write the page to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(render(data), encoding="utf-8")
    tmp.replace(path)
    return path


def render(data: AblationData) -> str:
    title = escape(f"cspsearch ablation: {data.study_name}")
    d = data.data
    explain = EXPLAIN_BY_KIND.get(data.kind, EXPLAIN)
    parts = [
        f"<h1>{title}</h1>",
        f"<p class='meta'>bases from <b>{escape(data.source)}</b> · dataset "
        f"{escape(str(d.get('dataset', '?')))} at {escape(str(d.get('input_size', '?')))} px · "
        f"{data.seeds} seed(s) per variant · {data.trials} trials ({data.failed} failed)</p>",
        f"<p class='meta'>{escape(explain.format(m=data.metric))}</p>",
        f"<p class='meta'>verdicts: {escape(data.rule.describe())}</p>",
        f"<p class='meta'>{escape(LATENCY_NOTE.format(ref=data.reference))}</p>"
        if data.has_latency_ort
        else "",
        "<h2>Effect against MACs</h2>",
        _figure(change_figure(data), True),
    ]
    if data.kind == "block":  # blocks differ in compute: which are on the front
        parts += [
            f"<h2>{escape(data.metric)} against MACs</h2>",
            _figure(front_figure(data), False),
        ]
    if data.gradient_compared:  # NOTE: one bar (the reference's alone) compares nothing
        parts += ["<h2>Gradient duplication</h2>", _figure(gradient_figure(data), False)]
    for t in data.tables:
        paper = any(v.paper is not None for v in t.rows)
        parts.append(f"<h2>Base {escape(base_title(t))}</h2>")
        parts.append(f"<p class='meta'>{escape(family_text(t.rows))}</p>")
        parts.append(_table(data, t.rows, paper) if t.rows else "<p>No trained trial yet.</p>")
        if data.kind == "block" and t.rows:
            parts.append(f"<p class='meta'>On the front: {escape(', '.join(front(t.rows)))}</p>")
    if len(data.tables) > 1 and data.pooled:
        parts.append("<h2>Pooled over the bases (pairs: base × seed)</h2>")
        parts.append(f"<p class='meta'>{escape(pooled_title(data))}; "
                     f"{escape(family_text(data.pooled))}</p>")  # fmt: skip
        parts.append(_table(data, data.pooled, False))
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


def _table(data: AblationData, rows: list[VariantStats], paper: bool) -> str:
    th = "".join(
        f"<th class='{'t' if i == 0 else ''}'>{escape(h)}</th>"
        for i, h in enumerate(head(data, paper))
    )
    body = []
    for v in rows:
        tds = []
        for i, c in enumerate(cells(data, v, paper)):
            style = f" style='color:{VERDICT_COLOURS[c]}'" if c in VERDICT_COLOURS else ""
            tds.append(f"<td class='{'t' if i == 0 else ''}'{style}>{escape(c)}</td>")
        body.append(f"<tr>{''.join(tds)}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(fig, first: bool) -> str:  # noqa: ANN001 (a plotly Figure)
    return pio.to_html(fig, include_plotlyjs=first, full_html=False, config={"displaylogo": False})
