"""An ablation study's tables as JSON rows (``cspsearch ablate --json FILE``, ``cspsearch report
STUDY-ablation --json FILE``), for notebooks and CI: one row per base and variant, then the
pooled rows (base ``pooled``). Units as in the printed table: changes in percent, scores and
their differences in points (the score × 100), 95% intervals unless the row says otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cspsearch.ablate.read import AblationData
from cspsearch.ablate.tables import VariantStats

POOLED = "pooled"  # the base name of the pooled rows


def json_rows(data: AblationData) -> list[dict[str, Any]]:
    """Every row of every table, then the pooled ones."""
    out = [_row(data, t.base, v) for t in data.tables for v in t.rows]
    if len(data.tables) > 1:
        out += [_row(data, POOLED, v) for v in data.pooled]
    return out


def write_json(data: AblationData, path: str | Path) -> Path:
    """The study's description and its rows as one JSON file, written whole (a temporary file
    renamed over it, so a reader never sees half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "study": data.study_name,
        "source": data.source,
        "metric": data.metric,
        "reference": data.reference,
        "margin_pp": data.rule.margin,
        "alpha": data.rule.alpha,
        "rule": data.rule.describe(),
        "rows": json_rows(data),
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=1), encoding="utf-8")
    partial.replace(path)
    return path


def _points(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _row(data: AblationData, base: str, v: VariantStats) -> dict[str, Any]:
    change = v.change
    diff = change.diff if change is not None else None
    return {
        "base": base,
        "variant": v.variant,
        "reference": v.variant == data.reference,
        "macs_change_pct": v.macs_change,
        "params_change_pct": v.params_change,
        "score_pp": _points(v.score.mean),
        "score_low_pp": _points(v.score.low),
        "score_high_pp": _points(v.score.high),
        "difference_pp": _points(diff.mean) if diff else None,
        "difference_low_pp": _points(diff.low) if diff else None,
        "difference_high_pp": _points(diff.high) if diff else None,
        "verdict": v.verdict,
        "p_difference": v.decision.p_difference if v.decision else None,
        "p_equivalence": v.decision.p_equivalence if v.decision else None,
        "p_noninferiority": v.decision.p_noninferiority if v.decision else None,
        "adjusted": v.decision.adjusted if v.decision else "",
        "pairs": diff.n if diff else 0,
        "seeds": v.score.n,
    }
