"""An ablation study's tables: Table 1 (or Table 2) per base and each variant pooled over the
bases, as plain numbers — **this is where a verdict is decided** (``decide_rows``: the score
differences paired by seed, through cspsearch.stats.decide_table with Holm, or the sequential
looks of cspsearch/sequential.py for a ``--seeds auto`` table; docs/verdicts.md). No plotly
and no torch.

Per base and variant: MACs and parameters change against the reference (``none``, or ``fpn``
for a detector) in percent, the score's mean over seeds with its 95% interval, the score change
against the reference paired by seed with its interval and verdict, and the mean gradient
duplication when the trials recorded it. A PeleeNet-like base (family csp_peleenet) shows the
paper's compute and top-1 change beside ours (cspsearch/space/paper.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from cspsearch.pareto import pareto_mask
from cspsearch.sequential import sequential_table
from cspsearch.space.paper import paper_row
from cspsearch.stats import DEFAULT_MARGIN
from cspsearch.stats import Decision
from cspsearch.stats import Interval
from cspsearch.stats import Paired
from cspsearch.stats import decide_table
from cspsearch.stats import interval
from cspsearch.stats import paired


class SeedRow(NamedTuple):
    """One trained trial of the ablation."""

    base: str
    variant: str  # "none" or "fusion/γ"
    seed: int
    score: float
    macs: int | None
    params: int | None
    gradient: float | None
    family: str = ""
    conv_macs: int | None = None  # fvcore's convolution MACs (the paper's BFLOPs / 2)
    block: str = ""  # the stages' block(s) of a csp_yolo network, e.g. "c2f"


class VariantStats(NamedTuple):
    variant: str
    macs_change: float | None  # percent against none
    params_change: float | None
    score: Interval  # over seeds
    change: Paired | None  # against none, paired by seed; None for none itself
    gradient: Interval | None  # gradient duplication over seeds, when recorded
    paper: tuple[float, float] | None  # the paper's (compute %, top-1 points), if it has one
    conv_change: float | None = None  # convolution MACs change, as the paper counts compute
    diffs: tuple[float, ...] = ()  # variant − reference in points, one per paired seed, in order
    decision: Decision | None = None  # the verdict (decide_rows); None for the reference

    @property
    def verdict(self) -> str:
        if self.decision is not None:
            return self.decision.verdict
        return "reference" if self.change is None else self.change.verdict


class Rule(NamedTuple):
    """How the tables decide: the equivalence margin in points, α, and — for ``--seeds auto``
    — the sequential looks (cspsearch/sequential.py) between min_seeds and max_seeds."""

    margin: float | None = DEFAULT_MARGIN
    alpha: float = 0.05
    min_seeds: int | None = None
    max_seeds: int | None = None

    def describe(self) -> str:
        margin = f"margin ±{self.margin:g} pp" if self.margin else "no margin"
        if self.min_seeds is not None:
            return (
                f"{margin}; seeds auto {self.min_seeds}-{self.max_seeds}: α {self.alpha:g} spent "
                "over the looks, Holm over each table's rows at each look"
            )
        return f"{margin}; α {self.alpha:g}, Holm over each table's rows"


class BaseTable(NamedTuple):
    base: str
    family: str
    rows: list[VariantStats]
    block: str = ""  # the reference's block (csp_yolo bases): what "base" stands for


def base_table(
    base: str, rows: Sequence[SeedRow], variants: Sequence[str], reference: str = "none"
) -> BaseTable:
    """Table 1 of one base: one VariantStats per variant it has results for."""
    by = _by_variant(rows)
    none = by.get(reference, {})
    ref = next(iter(none.values()), None)
    family = next((r.family for r in rows), "")
    out = []
    for v in variants:
        if v not in by:
            continue
        runs = by[v]
        seeds = sorted(set(none) & set(runs))
        first = next(iter(runs.values()))
        grads = [r.gradient for r in runs.values() if r.gradient is not None]
        change = paired([none[s].score for s in seeds], [runs[s].score for s in seeds])
        diffs = tuple(100 * (runs[s].score - none[s].score) for s in seeds)
        out.append(
            VariantStats(
                variant=v,
                macs_change=_change(first.macs, ref.macs if ref else None),
                params_change=_change(first.params, ref.params if ref else None),
                score=interval([r.score for r in runs.values()]),
                change=None if v == reference else change,
                gradient=interval(grads) if grads else None,
                paper=_paper(v) if family == "csp_peleenet" else None,
                conv_change=_change(first.conv_macs, ref.conv_macs if ref else None),
                diffs=() if v == reference else diffs,
            )
        )
    own = next((r.block for r in rows if r.variant == reference), "")
    return BaseTable(base, family, out, own)


def pooled(
    rows: Sequence[SeedRow], variants: Sequence[str], reference: str = "none"
) -> list[VariantStats]:
    """Each variant against the reference over every (base, seed) pair; MACs change averaged."""
    bases = sorted({r.base for r in rows})
    grouped = {b: _by_variant([r for r in rows if r.base == b]) for b in bases}
    out = []
    for v in variants:
        a, b, macs, params, grads = [], [], [], [], []
        for by in grouped.values():
            none, runs = by.get(reference, {}), by.get(v, {})
            for s in sorted(set(none) & set(runs)):
                a.append(none[s].score)
                b.append(runs[s].score)
            if none and runs:
                ref, first = next(iter(none.values())), next(iter(runs.values()))
                macs.append(_change(first.macs, ref.macs))
                params.append(_change(first.params, ref.params))
            grads += [r.gradient for r in runs.values() if r.gradient is not None]
        if not b:
            continue
        out.append(
            VariantStats(
                variant=v,
                macs_change=_mean(macs),
                params_change=_mean(params),
                score=interval(b),
                change=None if v == reference else paired(a, b),
                gradient=interval(grads) if grads else None,
                paper=None,
                diffs=() if v == reference else tuple(100 * (y - x) for x, y in zip(a, b)),
            )
        )
    return out


def front(rows: Sequence[VariantStats]) -> list[str]:
    """The variants on the score–MACs front of one table (higher mean score, lower MACs
    change; none dominates them), in the table's order."""
    shown = [v for v in rows if v.macs_change is not None]
    points = [(v.score.mean, v.macs_change) for v in shown]
    mask = pareto_mask(points, ("maximize", "minimize"))
    return [v.variant for v, on in zip(shown, mask) if on]


def decide_rows(
    rows: Sequence[VariantStats], rule: Rule, sequential: bool = False
) -> list[VariantStats]:
    """``rows`` with each non-reference row's verdict, adjusted within the table: Holm at α
    (``decide_table``), or the sequential looks when ``sequential`` (a per-base table of a
    ``--seeds auto`` study: the verdicts its seeds stopped on). The reference keeps none."""
    judged = [i for i, v in enumerate(rows) if v.change is not None]
    diffs = [list(rows[i].diffs) for i in judged]
    if sequential and rule.min_seeds is not None and rule.max_seeds is not None:
        found = sequential_table(
            diffs, min_seeds=rule.min_seeds, max_seeds=rule.max_seeds, margin=rule.margin,
            alpha=rule.alpha,
        )  # fmt: skip
        decisions = [f.decision for f in found]
    else:
        decisions = decide_table(diffs, rule.margin, rule.alpha)
    out = list(rows)
    for i, d in zip(judged, decisions):
        out[i] = out[i]._replace(decision=d)
    return out


def _by_variant(rows: Sequence[SeedRow]) -> dict[str, dict[int, SeedRow]]:
    out: dict[str, dict[int, SeedRow]] = {}
    for r in rows:
        out.setdefault(r.variant, {}).setdefault(r.seed, r)  # a retried copy counts once
    return out


def _change(value: float | None, reference: float | None) -> float | None:
    if value is None or not reference:
        return None
    return 100 * (value / reference - 1)


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def _paper(variant: str) -> tuple[float, float] | None:
    fusion, _, ratio = variant.partition("/")
    return paper_row(fusion, float(ratio)) if ratio else None


def split_variant(variant: str) -> tuple[str, float | None]:
    fusion, _, ratio = variant.partition("/")
    return fusion, float(ratio) if ratio else None
