"""An ablation study's tables: Table 1 (or Table 2) per base and each variant pooled over the
bases, as plain numbers — **this is where a verdict is decided** (``decide_rows``: the score
differences paired by seed, one ``stats.Decision`` per row: a fixed table through
cspsearch.stats.decide_table (Bonferroni over the table's rows), a ``--seeds auto`` table
through the looks of cspsearch/sequential.py; docs/verdicts.md). No plotly and no torch.

Per base and variant: MACs and parameters change against the reference (``none``, ``fpn`` for
a detector, the base's own block for ``--block``) in percent, the score's mean over seeds with
its 95% interval, the score change against the reference paired by seed with the interval of
its verdict's test and the verdict (both from the row's Decision), and the mean gradient
duplication when recorded, and latency_ort (median ms) with its change when measured. A
PeleeNet-like base (csp_peleenet) shows the paper's compute and top-1 change beside ours.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Sequence
from statistics import median
from typing import NamedTuple

from cspsearch.pareto import pareto_mask
from cspsearch.sequential import sequential_table
from cspsearch.space.paper import paper_row
from cspsearch.stats import ALPHA
from cspsearch.stats import DEFAULT_MARGIN
from cspsearch.stats import RESOLUTION
from cspsearch.stats import Decision
from cspsearch.stats import Interval
from cspsearch.stats import decide_table
from cspsearch.stats import interval


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
    latency_ort: float | None = None  # ms, ONNX Runtime at batch 1, once per architecture


class VariantStats(NamedTuple):
    variant: str
    macs_change: float | None  # percent against none
    params_change: float | None
    score: Interval  # over seeds
    reference: bool  # the row the others are paired against
    gradient: Interval | None  # gradient duplication over seeds, when recorded
    paper: tuple[float, float] | None  # the paper's (compute %, top-1 points), if it has one
    conv_change: float | None = None  # convolution MACs change, as the paper counts compute
    diffs: tuple[float, ...] = ()  # variant − reference in points, one per paired seed, in order
    decision: Decision | None = None  # verdict, interval, tests (decide_rows); None: reference
    latency_ort: float | None = None  # ms: median over the variant's trials, when measured
    latency_change: float | None = None  # percent against the reference's latency_ort

    @property
    def change(self) -> Decision | None:
        """The paired change's Decision (None for the reference)."""
        return None if self.reference else self.decision

    @property
    def verdict(self) -> str:
        """As printed: ``reference``, or the Decision's verdict with its note."""
        if self.reference or self.decision is None:
            return "reference"
        return self.decision.said


class Rule(NamedTuple):
    """How the tables decide: the equivalence margin in points, α, and — for ``--seeds auto``
    — the sequential looks (cspsearch/sequential.py) between min_seeds and max_seeds."""

    margin: float | None = DEFAULT_MARGIN
    alpha: float = ALPHA
    min_seeds: int | None = None
    max_seeds: int | None = None
    resolution: float = RESOLUTION  # points: the score's step (one validation image)

    def describe(self) -> str:
        margin = f"margin ±{self.margin:g} pp" if self.margin else "no margin"
        test = (
            f"paired t with sd ≥ {self.resolution:.2f}/√6 pp; each table one family: its k "
            f"tested rows at α/k each (Bonferroni, α {self.alpha:g}); interval 1 − 2α/k for "
            "equivalent / non-inferior, 1 − α/k otherwise"
        )
        if self.min_seeds is not None:
            return (
                f"{margin}; seeds auto {self.min_seeds}-{self.max_seeds}: α spent over the "
                f"looks, α_j/k at look j; {test}"
            )
        return f"{margin}; {test}"


class BaseTable(NamedTuple):
    base: str
    family: str
    rows: list[VariantStats]
    block: str = ""  # the reference's block (csp_yolo bases): what "base" stands for


def base_table(
    base: str, rows: Sequence[SeedRow], variants: Sequence[str], reference: str = "none"
) -> BaseTable:
    """Table 1 of one base: one VariantStats per variant it has results for (decided as a
    fixed table at the default rule; ``decide_rows`` re-decides under a study's rule)."""
    by = _by_variant(rows)
    refs = by.get(reference, {})
    ref = next(iter(refs.values()), None)
    family = next((r.family for r in rows), "")
    out = []
    for v in variants:
        if v not in by:
            continue
        runs = by[v]
        seeds = sorted(set(refs) & set(runs))
        first = next(iter(runs.values()))
        grads = [r.gradient for r in runs.values() if r.gradient is not None]
        diffs = tuple(100 * (runs[s].score - refs[s].score) for s in seeds)
        out.append(
            VariantStats(
                variant=v,
                macs_change=_change(first.macs, ref.macs if ref else None),
                params_change=_change(first.params, ref.params if ref else None),
                score=interval([r.score for r in runs.values()]),
                reference=v == reference,
                gradient=interval(grads) if grads else None,
                paper=_paper(v) if family == "csp_peleenet" else None,
                conv_change=_change(first.conv_macs, ref.conv_macs if ref else None),
                diffs=() if v == reference else diffs,
                latency_ort=_latency(runs.values()),
                latency_change=_change(_latency(runs.values()), _latency(refs.values())),
            )
        )
    own = next((r.block for r in rows if r.variant == reference), "")
    return BaseTable(base, family, decide_rows(out, Rule()), own)


def pooled(
    rows: Sequence[SeedRow], variants: Sequence[str], reference: str = "none"
) -> list[VariantStats]:
    """Each variant against the reference over every (base, seed) pair; MACs and latency_ort
    changes averaged over the bases, latency_ort the median of the variant's trials."""
    bases = sorted({r.base for r in rows})
    grouped = {b: _by_variant([r for r in rows if r.base == b]) for b in bases}
    out = []
    for v in variants:
        a, b, macs, params, grads, lat, ms = [], [], [], [], [], [], []
        for by in grouped.values():
            refs, runs = by.get(reference, {}), by.get(v, {})
            for s in sorted(set(refs) & set(runs)):
                a.append(refs[s].score)
                b.append(runs[s].score)
            if refs and runs:
                ref, first = next(iter(refs.values())), next(iter(runs.values()))
                macs.append(_change(first.macs, ref.macs))
                params.append(_change(first.params, ref.params))
                lat.append(_change(_latency(runs.values()), _latency(refs.values())))
            ms += runs.values()
            grads += [r.gradient for r in runs.values() if r.gradient is not None]
        if not b:
            continue
        out.append(
            VariantStats(
                variant=v,
                macs_change=_mean(macs),
                params_change=_mean(params),
                score=interval(b),
                reference=v == reference,
                gradient=interval(grads) if grads else None,
                paper=None,
                diffs=() if v == reference else tuple(100 * (y - x) for x, y in zip(a, b)),
                latency_ort=_latency(ms),
                latency_change=_mean(lat),
            )
        )
    return decide_rows(out, Rule())


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
    """``rows`` with each non-reference row's Decision, the table one family: a fixed table
    (``decide_table``), or the sequential looks when ``sequential`` (a per-base table of a
    ``--seeds auto`` study: the verdicts its seeds stopped on). The reference keeps none."""
    judged = [i for i, v in enumerate(rows) if not v.reference]
    diffs = [list(rows[i].diffs) for i in judged]
    if sequential and rule.min_seeds is not None and rule.max_seeds is not None:
        found = sequential_table(
            diffs, min_seeds=rule.min_seeds, max_seeds=rule.max_seeds, margin=rule.margin,
            alpha=rule.alpha, resolution=rule.resolution,
        )  # fmt: skip
        decisions = [f.decision for f in found]
    else:
        decisions = decide_table(diffs, rule.margin, rule.alpha, rule.resolution)
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


def _latency(rows: Iterable[SeedRow]) -> float | None:
    """The median latency_ort of ``rows`` (one base's seeds of a variant: one architecture)."""
    kept = [r.latency_ort for r in rows if r.latency_ort is not None]
    return median(kept) if kept else None


def _paper(variant: str) -> tuple[float, float] | None:
    fusion, _, ratio = variant.partition("/")
    return paper_row(fusion, float(ratio)) if ratio else None


def split_variant(variant: str) -> tuple[str, float | None]:
    fusion, _, ratio = variant.partition("/")
    return fusion, float(ratio) if ratio else None
