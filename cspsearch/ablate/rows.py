"""An ablation study's tables as JSON rows (``cspsearch ablate --json FILE``, ``cspsearch report
STUDY-ablation --json FILE``), for notebooks and CI: one row per base and variant, then the
pooled rows (base ``pooled``). Units as in the printed table: changes in percent, scores and
their differences in points (the score × 100). A score's interval is 95% over seeds; a
difference's is the one its verdict was read from (``interval_level``, ``interval_kind``), and
every field of the verdict comes from the row's one ``stats.Decision``. ``latency_ort_ms`` and
``latency_ort_change_pct`` are there only when the trials measured latency_ort.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cspsearch.ablate.read import AblationData
from cspsearch.ablate.tables import VariantStats
from cspsearch.stats import Decision

POOLED = "pooled"  # the base name of the pooled rows


def json_rows(data: AblationData) -> list[dict[str, Any]]:
    """Every row of every table, then the pooled ones."""
    out = [_row(data, t.base, v) for t in data.tables for v in t.rows]
    if len(data.tables) > 1:
        out += [_row(data, POOLED, v) for v in data.pooled]
    return out


def _latency(data: AblationData, v: VariantStats) -> dict[str, Any]:
    """latency_ort's fields, only when the trials measured it (older rows keep their keys)."""
    if not data.has_latency_ort:
        return {}
    return {"latency_ort_ms": v.latency_ort, "latency_ort_change_pct": v.latency_change}


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
        "kind": data.kind,
        "resolution_pp": data.rule.resolution,
        "rows": json_rows(data),
    }
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=1), encoding="utf-8")
    partial.replace(path)
    return path


def _points(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _row(data: AblationData, base: str, v: VariantStats) -> dict[str, Any]:
    d = v.change
    diff = d.diff if d is not None else None
    return {
        "base": base,
        "variant": v.variant,
        "reference": v.variant == data.reference,
        "macs_change_pct": v.macs_change,
        "params_change_pct": v.params_change,
        **_latency(data, v),
        "score_pp": _points(v.score.mean),
        "score_low_pp": _points(v.score.low),
        "score_high_pp": _points(v.score.high),
        "difference_pp": diff.mean if diff else None,  # a Decision's are in points
        "difference_low_pp": diff.low if diff else None,
        "difference_high_pp": diff.high if diff else None,
        "verdict": v.verdict,
        **_evidence(d),
        "pairs": diff.n if diff else 0,
        "seeds": v.score.n,
    }


def _evidence(d: Decision | None) -> dict[str, Any]:
    """What an auditor needs, all from the one Decision (empty values for the reference)."""
    keys = ("test", "statistic", "df", "se", "p_difference", "p_equivalence",
            "p_noninferiority", "family", "adjustment", "note")  # fmt: skip
    out: dict[str, Any] = {k: None if d is None else getattr(d, k) for k in keys}
    out["se_pp"] = out.pop("se")
    out["interval_level"] = None if d is None or d.diff.low is None else d.level
    out["interval_kind"] = None if d is None else d.kind
    return out
