"""An ablation study (``cspsearch ablate``) → the paper's Table 1 per base, plus the effect of
each variant pooled over the bases; plain numbers and text, no plotly and no torch.

Per base and variant: MACs and parameters change against the plain network (``none``) in
percent, the score's mean over seeds with its 95% interval, the score change against ``none``
paired by seed (cspsearch.stats.paired) with its interval and verdict, and the mean gradient
duplication when the trials recorded it. A PeleeNet-like base (family csp_peleenet) shows the
paper's compute and top-1 change beside ours (cspsearch/space/paper.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import NamedTuple

import optuna
from optuna.trial import TrialState

from cspsearch.errors import StudyError
from cspsearch.space.configs import SCORES
from cspsearch.space.paper import paper_row
from cspsearch.stats import Interval
from cspsearch.stats import Paired
from cspsearch.stats import interval
from cspsearch.stats import paired

GRADIENT = "gradient_duplication"  # user attribute: mean over stages (issue 13, gradients)


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


class VariantStats(NamedTuple):
    variant: str
    macs_change: float | None  # percent against none
    params_change: float | None
    score: Interval  # over seeds
    change: Paired | None  # against none, paired by seed; None for none itself
    gradient: Interval | None  # gradient duplication over seeds, when recorded
    paper: tuple[float, float] | None  # the paper's (compute %, top-1 points), if it has one
    conv_change: float | None = None  # convolution MACs change, as the paper counts compute


class BaseTable(NamedTuple):
    base: str
    family: str
    rows: list[VariantStats]


class AblationData(NamedTuple):
    study_name: str
    source: str
    metric: str  # accuracy, AP50 or AP
    variants: list[str]
    reference: str  # the variant the others are paired against: none, or fpn for a detector
    seeds: int
    tables: list[BaseTable]
    pooled: list[VariantStats]  # every base's pairs together
    data: dict[str, Any]
    trials: int
    failed: int

    @property
    def has_gradient(self) -> bool:
        return any(v.gradient is not None for t in self.tables for v in t.rows)


def is_ablation(storage: optuna.storages.BaseStorage | str, study_name: str) -> bool:
    study = optuna.load_study(study_name=study_name, storage=storage)
    return "ablation" in study.user_attrs


def read_ablation(storage: optuna.storages.BaseStorage | str, study_name: str) -> AblationData:
    """Read an ablation study and compute its tables; StudyError if it is not one."""
    study = optuna.load_study(study_name=study_name, storage=storage)
    described = study.user_attrs.get("ablation")
    if described is None:
        raise StudyError(f"study {study_name!r} is not an ablation study (cspsearch ablate)")
    score = next((n for n in (study.metric_names or []) if n in SCORES), "val_accuracy")
    trials = study.get_trials(deepcopy=False)
    rows = [r for r in (_row(t, score) for t in trials) if r is not None]
    variants = list(described.get("variants", []))
    variants += sorted({r.variant for r in rows} - set(variants))
    bases = list(described.get("bases", {})) or sorted({r.base for r in rows})
    ref = str(described.get("reference", "none"))
    return AblationData(
        study_name=study_name,
        source=str(described.get("source", "")),
        metric=SCORES.get(score, "accuracy"),
        variants=variants,
        reference=ref,
        seeds=int(described.get("seeds", 0)),
        tables=[base_table(b, [r for r in rows if r.base == b], variants, ref) for b in bases],
        pooled=pooled(rows, variants, ref),
        data=study.user_attrs.get("space", {}).get("data", {}),
        trials=len(trials),
        failed=sum(1 for t in trials if t.state == TrialState.FAIL),
    )


def _row(t: optuna.trial.FrozenTrial, score: str) -> SeedRow | None:
    a = t.user_attrs
    if t.state != TrialState.COMPLETE or not a.get("trained") or score not in a:
        return None
    if "ablation_variant" not in a:
        return None
    model = a.get("config", {}).get("model", {})
    grad = a.get(GRADIENT)
    return SeedRow(
        a["ablation_base"], a["ablation_variant"], int(a["ablation_seed"]), float(a[score]),
        a.get("macs"), a.get("params"), None if grad is None else float(grad),
        str(model.get("family", "")), a.get("macs_by_operator", {}).get("conv"),
    )  # fmt: skip


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
        out.append(
            VariantStats(
                v,
                _change(first.macs, ref.macs if ref else None),
                _change(first.params, ref.params if ref else None),
                interval([r.score for r in runs.values()]),
                None
                if v == reference
                else paired([none[s].score for s in seeds], [runs[s].score for s in seeds]),
                interval(grads) if grads else None,
                _paper(v) if family == "csp_peleenet" else None,
                _change(first.conv_macs, ref.conv_macs if ref else None),
            )
        )
    return BaseTable(base, family, out)


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
                v, _mean(macs), _mean(params), interval(b),
                None if v == reference else paired(a, b), interval(grads) if grads else None, None,
            )
        )  # fmt: skip
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
