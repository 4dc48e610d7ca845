"""HTML tables of the report: per-factor effects, paired comparisons, Pareto architectures and
all trials. Every string from a study is escaped; numeric cells carry ``data-v`` for sorting."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from html import escape
from typing import Any

from cspsearch.report.collect import ReportData
from cspsearch.report.collect import TrialRow
from cspsearch.report.factors import Comparison
from cspsearch.report.factors import FactorLevel
from cspsearch.report.factors import Interval
from cspsearch.stats import Decision


def table(head: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> str:
    """A sortable table; the first ``text_columns`` columns are left-aligned."""
    th = "".join(
        f"<th class='{'t' if i < text_columns else ''}'>{escape(h)}</th>"
        for i, h in enumerate(head)
    )
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    return f"<table class='sortable'><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def num(value: float | None, spec: str) -> str:
    if value is None:
        return "<td data-v='-1e300'>–</td>"
    return f"<td data-v='{float(value)}'>{escape(format(value, spec))}</td>"


def text(value: Any) -> str:
    return f"<td class='t'>{escape(str(value))}</td>"


def ci(
    iv: Interval,
    scale: float = 1.0,
    spec: str = ".2f",
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> str:
    """An interval cell; ``bounds`` clips it to the metric's possible range."""
    if iv.low is None or iv.high is None:
        return "<td>–</td>"
    low, high = max(bounds[0], iv.low * scale), min(bounds[1], iv.high * scale)
    return f"<td data-v='{low}'>[{format(low, spec)}, {format(high, spec)}]</td>"


def level(d: Decision | None) -> str:
    """The confidence level of a verdict's interval, e.g. ``98.9%`` (– without one)."""
    if d is None or d.diff.low is None:
        return "<td>–</td>"
    return f"<td data-v='{d.level}'>{100 * d.level:.3g}%</td>"


def factor_table(levels: list[FactorLevel], metric: str = "accuracy") -> str:
    """One factor: per level, architectures, raw accuracy (%) with its interval, MACs, params,
    the raw change (averages, confounded) and the adjusted change with its verdict (the header
    says how many levels were tested together)."""
    tested = sum(lv.decision is not None and lv.decision.df is not None for lv in levels)
    head = (
        "level",
        "architectures",
        f"raw mean val {metric} %",
        "95% CI",
        "mean MMACs",
        "mean params",
        "raw change vs reference (averages, not an effect)",
        "adjusted Δ (points)",
        "CI (the verdict's)",
        "CI level",
        f"verdict ({tested} levels tested, one family)",
    )
    rows = [
        [
            text(f"{lv.level}{' (reference)' if lv.reference else ''}"),
            num(lv.metric.n, "d"),
            num(100 * lv.metric.mean, ".2f"),
            ci(lv.metric, 100, bounds=(0, 100)),
            num(lv.macs / 1e6, ".3f"),
            num(lv.params, ",.0f"),
            text(f"raw: {lv.paper_change()}" if lv.paper_change() else ""),
            num(lv.adjusted.mean if lv.adjusted else None, "+.2f"),
            ci(lv.adjusted) if lv.adjusted else "<td>–</td>",
            level(lv.decision),
            text(lv.verdict),
        ]
        for lv in levels
    ]
    return table(head, rows)


def comparison_table(comparisons: list[Comparison]) -> str:
    head = (
        "factor",
        "from",
        "to",
        "pairs",
        "Δ val acc (points)",
        "CI (the verdict's)",
        "CI level",
        "p (H0: Δ = 0, adjusted)",
        "family (comparisons tested)",
        "verdict",
        "Δ MACs %",
        "95% CI ",
    )
    rows = [
        [
            text(c.factor),
            text(c.a),
            text(c.b),
            num(c.diff_pp.n, "d"),
            num(c.diff_pp.mean, "+.2f"),
            ci(c.diff_pp),
            level(c.decision),
            num(c.decision.p_difference if c.decision else None, ".3g"),
            num(c.decision.family if c.decision and c.decision.df else None, "d"),
            text(c.verdict),
            num(c.macs_pct.mean, "+.1f"),
            ci(c.macs_pct, spec=".1f"),
        ]
        for c in comparisons
    ]
    return table(head, rows, text_columns=3)


def pareto_architectures(data: ReportData) -> str:
    """The Pareto-optimal trials with their full configuration and the commands that re-run
    one of them."""
    front = sorted((r for r in data.rows if r.pareto), key=lambda r: r.macs or 0)
    if not front:
        return "<p>No evaluated, feasible trial yet.</p>"
    m = data.metric
    head = ("trial", "fusion", f"val {m}", f"test {m}", "MMACs", "params", "configuration")
    rows = [
        [
            num(r.number, "d"),
            text(r.fusion),
            num(r.score, ".4f"),
            num(r.test_score, ".4f"),
            num((r.macs or 0) / 1e6, ".3f"),
            num(r.n_params, ","),
            _code(json.dumps(r.config.get("model", r.config))),
        ]
        for r in front
    ]
    name = data.study_name
    commands = (
        f"cspsearch export {name} --best {len(front)} --out-dir reports/best\n"
        f"cspsearch run --space reports/best/{safe_name(name)}-trial{front[0].number}.yaml "
        f"--n-trials 1"
    )
    return (
        table(head, rows, text_columns=0)
        + f"<p>Re-run one (the export writes one fixed space file per architecture):</p>"
        f"<pre>{escape(commands)}</pre>"
    )


def trials_table(rows: list[TrialRow], metric: str = "accuracy") -> str:
    head = (
        "trial",
        "state",
        "fusion",
        "parameters",
        f"val {metric}",
        f"test {metric}",
        "MMACs",
        "MFLOPs",
        "params",
        "Pareto",
        "seconds",
        "note",
    )
    out = []
    for r in rows:
        note = (
            r.fail_reason
            or (f"over budget: {r.infeasible}" if r.infeasible else "")
            or (
                f"stopped early at epoch {r.stopped_at}: partial, not in statistics"
                if r.stopped_at is not None
                else ""
            )
            or (
                f"same architecture as trial {r.duplicate_of}"
                if r.duplicate_of is not None
                else ""
            )
        )
        params = ", ".join(f"{k}={v}" for k, v in sorted(r.params.items()))
        out.append(
            [
                num(r.number, "d"),
                text(r.state),
                text(r.fusion),
                text(params),
                num(r.score, ".4f"),
                num(r.test_score, ".4f"),
                num(r.macs and r.macs / 1e6, ".3f"),
                num(r.flops and r.flops / 1e6, ".3f"),
                num(r.n_params, ","),
                text("✓" if r.pareto else ""),
                num(r.seconds, ".1f"),
                text(note),
            ]
        )
    return table(head, out, text_columns=0)


def _code(value: str) -> str:
    return f"<td class='t'><code>{escape(value)}</code></td>"


def safe_name(name: str) -> str:
    """A study name as a file name that cannot leave its folder."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "study"
