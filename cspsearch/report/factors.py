"""Per-factor effect tables and paired one-factor comparisons of a search, as plain numbers.

Only trials in statistics count (``TrialRow.in_statistics``: each architecture once, trained
to the end). Intervals and paired tests come from cspsearch/stats.py (a level's raw score:
95% Student-t; none for n < 2; a verdict: the interval its test corresponds to). Raw changes
are written the paper's way: MACs in percent of the reference, accuracy in
percentage points; they compare averages over trials that also differ in the other factors, so
each level also carries its *adjusted* change (effects.py) and a verdict. The reference of
``fusion`` and ``split_ratio`` is the plain network (fusion=none), as in the paper's tables;
the reference of any other factor is its lowest level.

Verdicts are cspsearch.stats' decided answers against ±``margin`` points (equivalent /
better / worse / non-inferior / undecided; docs/verdicts.md), one ``Decision`` per row: each
factor's table is one family (its k estimable levels tested at α/k each, Bonferroni), and so
are each factor's paired comparisons.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import NamedTuple

from cspsearch.report.collect import TrialRow
from cspsearch.report.effects import PLAIN
from cspsearch.report.effects import adjusted_effects
from cspsearch.report.effects import effect_verdict
from cspsearch.stats import DEFAULT_MARGIN
from cspsearch.stats import Decision
from cspsearch.stats import Interval
from cspsearch.stats import decide_table
from cspsearch.stats import estimate_decision
from cspsearch.stats import interval

__all__ = ["PLAIN", "Comparison", "FactorLevel", "factor_tables", "interval", "paired_comparisons"]


class FactorLevel(NamedTuple):
    factor: str
    level: Any
    metric: Interval  # of the score (e.g. validation accuracy)
    macs: float  # mean MACs
    params: float  # mean parameter count
    reference: bool
    delta_macs_pct: float | None  # mean MACs vs the reference, percent
    delta_metric_pp: float | None  # mean score vs the reference, percentage points
    adjusted: Interval | None = None  # change in points, other factors held fixed (effects.py)
    verdict: str = ""  # of the adjusted change: equivalent / better / worse / … (its family)
    decision: Decision | None = None  # the verdict with its interval's level, tests, family

    def paper_change(self) -> str:
        """'−13% MACs, +0.2 acc', raw averages (empty for the reference level itself)."""
        if self.reference or self.delta_macs_pct is None or self.delta_metric_pp is None:
            return ""
        return f"{_signed(self.delta_macs_pct, '.0f')}% MACs, {_signed(self.delta_metric_pp)} acc"


def factor_tables(
    rows: Sequence[TrialRow], metric: str = "score", margin: float | None = DEFAULT_MARGIN
) -> dict[str, list[FactorLevel]]:
    """One table per searched factor over the trials in statistics: each level's count of
    architectures, score interval, mean MACs and parameters, raw change against the factor's
    reference, and the adjusted change with its verdict (± ``margin`` points, the factor's
    estimable levels one family)."""
    evaluated = [r for r in rows if r.in_statistics]
    plain = [r for r in evaluated if r.baseline]
    tables, refs = {}, {}
    for factor in sorted({k for r in evaluated for k in r.params}):
        groups: dict[Any, list[TrialRow]] = defaultdict(list)
        for r in evaluated:
            if factor in r.params:
                groups[r.params[factor]].append(r)
        levels = sorted(groups, key=_order)
        if factor == "split_ratio" and plain:
            groups, levels = {PLAIN: plain, **groups}, [PLAIN, *levels]
        ref_key = PLAIN if factor == "split_ratio" and plain else levels[0]
        if factor == "fusion" and "none" in groups:
            ref_key = "none"
        ref, refs[factor] = groups[ref_key], ref_key
        tables[factor] = [
            _level(factor, lv, groups[lv], ref, lv == ref_key, metric) for lv in levels
        ]
    effects = adjusted_effects(evaluated, lambda r: _score(r, metric), refs, margin)
    for factor, levels in tables.items():
        tables[factor] = _adjust(levels, _family(effects.get(factor, {}), margin))
    return tables


def _family(
    effects: dict[Any, Decision | None], margin: float | None
) -> dict[Any, Decision | None]:
    """One factor's decidable effects re-decided as one family (k of them, α/k each)."""
    tested = [k for k, d in effects.items() if d is not None and d.df is not None]
    return {
        **effects,
        **{
            k: estimate_decision(
                effects[k].diff.mean, effects[k].se, effects[k].df, effects[k].diff.n, margin,
                family=len(tested),
            )  # fmt: skip
            for k in tested
        },
    }


def _adjust(levels: list[FactorLevel], effects: dict[Any, Decision | None]) -> list[FactorLevel]:
    return [
        lv
        if lv.reference
        else lv._replace(
            adjusted=None if effects.get(lv.level) is None else effects[lv.level].diff,
            verdict=effect_verdict(effects.get(lv.level)),
            decision=effects.get(lv.level),
        )
        for lv in levels
    ]


def _level(
    factor: str, level: Any, group: list[TrialRow], ref: list[TrialRow], is_ref: bool, metric: str
) -> FactorLevel:
    score = interval([_score(r, metric) for r in group])
    macs = statistics.fmean(r.macs or 0 for r in group)
    ref_macs = statistics.fmean(r.macs or 0 for r in ref)
    ref_score = statistics.fmean(_score(r, metric) for r in ref)
    return FactorLevel(
        factor=factor,
        level=level,
        metric=score,
        macs=macs,
        params=statistics.fmean(r.n_params or 0 for r in group),
        reference=is_ref,
        delta_macs_pct=100 * (macs / ref_macs - 1) if ref_macs else None,
        delta_metric_pp=100 * (score.mean - ref_score),
    )


class Comparison(NamedTuple):
    factor: str
    a: Any
    b: Any
    diff_pp: Interval  # score(b) − score(a) over pairs, points, with the verdict's interval
    macs_pct: Interval  # MACs(b) / MACs(a) − 1 over pairs, percent (95%)
    verdict: str = ""  # equivalent / better / worse / non-inferior / undecided (its family)
    decision: Decision | None = None  # the verdict's test, interval level, p-values, family


def paired_comparisons(
    rows: Sequence[TrialRow], metric: str = "score", margin: float | None = DEFAULT_MARGIN
) -> list[Comparison]:
    """Compare architectures that differ in one factor only, level against level.

    Trials are matched on every other searched parameter; each architecture counts once
    (duplicates and early-stopped trials are not in statistics). Against ``fusion=none`` the
    split ratio is ignored (the plain network has none), so each CSP trial meets the plain
    network of the same depth and widths; several CSP trials meeting one plain network are
    averaged first. The verdict is ``stats.decide_table`` on the paired differences (±
    ``margin`` points), the factor's comparisons one family; fewer than two pairs: "too few
    pairs" (and no interval)."""
    evaluated = [r for r in rows if r.in_statistics]
    out = []
    for factor in sorted({k for r in evaluated for k in r.params}):
        out += _factor_comparisons(evaluated, factor, metric, margin)
    return out


def _factor_comparisons(
    evaluated: list[TrialRow], factor: str, metric: str, margin: float | None
) -> list[Comparison]:
    found, diffs = [], []
    levels = sorted({r.params[factor] for r in evaluated if factor in r.params}, key=_order)
    for i, a in enumerate(levels):
        for b in levels[i + 1 :]:
            plain = factor == "fusion" and "none" in (a, b)  # the plain network has no γ
            ignore = {factor, "split_ratio"} if plain else {factor}
            pairs = _pairs(evaluated, factor, a, b, lambda r, ig=ignore: _key(r, ig), metric)
            if pairs:
                diffs.append([100 * (pb - pa) for pa, pb, _, _ in pairs])
                macs = interval([100 * (mb / ma - 1) for _, _, ma, mb in pairs if ma])
                found.append(Comparison(factor, a, b, Interval(0.0, None, None, 0), macs))
    decided = decide_table(diffs, margin)
    return [
        c._replace(
            diff_pp=d.diff, decision=d,
            verdict=d.verdict if d.diff.n >= 2 else "too few pairs",
        )
        for c, d in zip(found, decided)
    ]  # fmt: skip


def _pairs(
    rows: list[TrialRow],
    factor: str,
    a: Any,
    b: Any,
    key: Callable[[TrialRow], tuple],
    metric: str,
) -> list[tuple[float, float, float, float]]:
    sides: dict[tuple, dict[Any, list[TrialRow]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.params.get(factor) in (a, b):
            sides[key(r)][r.params[factor]].append(r)
    pairs = []
    for side in sides.values():
        if side[a] and side[b]:
            pairs.append(
                (
                    statistics.fmean(_score(r, metric) for r in side[a]),
                    statistics.fmean(_score(r, metric) for r in side[b]),
                    statistics.fmean(r.macs or 0 for r in side[a]),
                    statistics.fmean(r.macs or 0 for r in side[b]),
                )
            )
    return pairs


def _key(r: TrialRow, ignore: set[str]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in r.params.items() if k not in ignore))


def _score(r: TrialRow, metric: str) -> float:
    return float(r.values.get(metric, getattr(r, metric, None) or 0.0))


def _order(level: Any) -> tuple:
    # Fusions in the paper's order; numbers by value; anything else by its text.
    fusions = ["none", "first", "last", "full"]
    if level in fusions:
        return (0, fusions.index(level), "")
    return (1, level, "") if isinstance(level, (int, float)) else (2, 0, str(level))


def _signed(value: float, spec: str = ".1f") -> str:
    text = format(value, spec)  # the paper's sign style: "−13%", "+0.2"
    return "−" + text[1:] if text.startswith("-") else "+" + text
