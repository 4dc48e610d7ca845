"""An ablation study's Table 1 as plain text (``cspsearch ablate`` prints it at the end), and
the cell formats the HTML page shares: scores in percent with their 95% interval over seeds,
changes in points with the interval of the row's verdict (its level in its own column)."""

from __future__ import annotations

from cspsearch.ablate.read import AblationData
from cspsearch.ablate.tables import BaseTable
from cspsearch.ablate.tables import VariantStats
from cspsearch.ablate.tables import front
from cspsearch.stats import Interval


def pct(value: float | None) -> str:
    """A relative change in percent, e.g. ``-12.3%``."""
    return "–" if value is None else f"{value:+.1f}%"


LATENCY_NOTE = (
    "latency_ort: ms at batch 1 in ONNX Runtime (CPU), measured once per architecture before "
    "training, the median of the variant's trials; its change against {ref} in percent"
)


def ms_text(value: float | None) -> str:
    """A latency in milliseconds, e.g. ``1.234``."""
    return "–" if value is None else f"{value:.3f}"


def score_text(i: Interval) -> str:
    """A score (0–1) as percent with its interval, clipped to 0–100: ``84.2 [80.1, 88.3]``."""
    if i.low is None or i.high is None:
        return f"{100 * i.mean:.1f}"
    low, high = max(0.0, i.low), min(1.0, i.high)  # a score lies in [0, 1]
    return f"{100 * i.mean:.1f} [{100 * low:.1f}, {100 * high:.1f}]"


def change_text(v: VariantStats) -> str:
    """The paired change in points with its verdict's interval: ``+0.8 [-1.2, +2.8]``."""
    if v.change is None:
        return "–"
    d = v.change.diff
    if d.low is None or d.high is None:
        return f"{d.mean:+.1f}"
    return f"{d.mean:+.1f} [{d.low:+.1f}, {d.high:+.1f}]"


def gradient_text(i: Interval | None) -> str:
    return "–" if i is None else f"{i.mean:.3f}"


def paper_text(v: VariantStats) -> tuple[str, str]:
    """The paper's (compute change, top-1 change) cells."""
    if v.paper is None:
        return "–", "–"
    return f"{v.paper[0]:+.0f}%", f"{v.paper[1]:+.1f}"


def head(data: AblationData, paper: bool) -> list[str]:
    """Column titles (text and HTML alike)."""
    m = data.metric
    ref = data.reference
    cols = ["variant", "MACs", "params"]
    if data.has_latency_ort:  # NOTE: older studies and spaces without measure: ort have none
        cols += ["latency_ort ms", f"latency_ort vs {ref}"]
    cols += [f"{m} % (95% CI)", f"Δ {m} pp vs {ref}, by seed"]
    margin = f"±{data.rule.margin:g} pp" if data.rule.margin else "no margin"
    cols += ["CI level", f"verdict ({margin}, Bonferroni)", "pairs"]
    if data.has_gradient:
        cols.append("gradient dup.")
    if paper:
        cols += ["conv MACs", "paper compute", "paper Δ top-1"]
    return cols


def cells(data: AblationData, v: VariantStats, paper: bool) -> list[str]:
    """One row's cells as text."""
    pairs = str(v.change.diff.n) if v.change is not None else "–"
    out = [v.variant, pct(v.macs_change), pct(v.params_change)]
    if data.has_latency_ort:
        out += [ms_text(v.latency_ort), pct(v.latency_change)]
    out += [score_text(v.score), change_text(v), level_text(v), v.verdict, pairs]
    if data.has_gradient:
        out.append(gradient_text(v.gradient))
    if paper:
        out += [pct(v.conv_change), *paper_text(v)]
    return out


def level_text(v: VariantStats) -> str:
    """The confidence level of the row's interval, e.g. ``99.4%`` (– without an interval)."""
    d = v.change
    if d is None or d.diff.low is None:
        return "–"
    return f"{100 * d.level:.3g}%"


def family_text(rows: list[VariantStats]) -> str:
    """What one table's verdicts were adjusted over: ``9 rows tested, Bonferroni over 9 rows``."""
    tested = [v.change for v in rows if v.change is not None and v.change.df is not None]
    how = tested[0].adjustment if tested else "none"
    return f"{len(tested)} of {sum(v.change is not None for v in rows)} rows tested; {how}"


def base_title(t: BaseTable) -> str:
    """``trial 3 (csp_yolo; base = block c2f)``: the base, its family and what ``base`` is."""
    own = f"; base = block {t.block}" if t.block else ""
    return f"{t.base} ({t.family or 'unknown family'}{own})"


def format_study(data: AblationData) -> str:
    """Every base's table, then the pooled one, as aligned plain text."""
    lines = [
        f"ablation study {data.study_name} (bases from {data.source}): {data.metric} over "
        f"{data.seeds} seed(s); change against {data.reference} paired by seed; scores with "
        f"95% Student-t intervals, changes with their verdict's interval; MACs and params "
        f"change against {data.reference}",
        f"verdicts: {data.rule.describe()} (docs/verdicts.md)",
    ]
    if data.has_latency_ort:
        lines.append(LATENCY_NOTE.format(ref=data.reference))
    for t in data.tables:
        paper = any(v.paper is not None for v in t.rows)
        lines += ["", f"base {base_title(t)}: {family_text(t.rows)}"]
        lines += _aligned([head(data, paper)] + [cells(data, v, paper) for v in t.rows])
        if data.kind == "block" and t.rows:
            lines.append(f"on the {data.metric}–MACs front: {', '.join(front(t.rows))}")
    if len(data.tables) > 1 and data.pooled:
        lines += ["", f"{pooled_title(data)}: {family_text(data.pooled)}"]
        lines += _aligned([head(data, False)] + [cells(data, v, False) for v in data.pooled])
    if not any(t.rows for t in data.tables):
        lines.append("no trained trial yet")
    return "\n".join(lines)


def pooled_title(data: AblationData) -> str:
    """The pooled table's title, and for a ``--seeds auto`` study what its error rate covers."""
    changes = "MACs and latency_ort changes" if data.has_latency_ort else "MACs change"
    title = f"pooled over the bases (pairs: base × seed; {changes}: mean of bases)"
    if data.rule.min_seeds is None:
        return title
    return (
        f"{title}. NOTE: decided as a fixed table on the pairs the per-base rounds produced; "
        "its seeds were chosen by stopping on the per-base tables, so its ≤ α familywise error "
        "is not guaranteed (it covers a fixed table only): read it as descriptive"
    )


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
