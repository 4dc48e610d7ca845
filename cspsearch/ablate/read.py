"""Reading an ablation study back: its trials → SeedRows → AblationData, with the tables of
tables.py (the score's step, one validation image, found from the stored scores:
``score_step``). No plotly and no torch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from typing import NamedTuple

import numpy as np
import optuna
from optuna.trial import TrialState

from cspsearch.ablate.tables import BaseTable
from cspsearch.ablate.tables import Rule
from cspsearch.ablate.tables import SeedRow
from cspsearch.ablate.tables import VariantStats
from cspsearch.ablate.tables import base_table
from cspsearch.ablate.tables import decide_rows
from cspsearch.ablate.tables import pooled
from cspsearch.errors import StudyError
from cspsearch.space.configs import SCORES
from cspsearch.stats import ALPHA
from cspsearch.stats import DEFAULT_MARGIN
from cspsearch.stats import RESOLUTION

# NOTE: studies written before the grid kind was stored name only their reference; each grid's
# reference is its own, so it tells the kind (grid.py: Grid.kind).
KIND_OF_REFERENCE = {"none": "csp", "fpn": "detector", "base": "block"}
GRADIENT = "gradient_duplication"  # user attribute: mean over stages (measure/gradients.py)


class AblationData(NamedTuple):
    study_name: str
    source: str
    metric: str  # accuracy, AP50 or AP
    variants: list[str]
    reference: str  # the variant the others are paired against: none, fpn, or base (--block)
    seeds: int
    tables: list[BaseTable]
    pooled: list[VariantStats]  # every base's pairs together
    data: dict[str, Any]
    trials: int
    failed: int
    rule: Rule = Rule()  # how the verdicts were decided (margin, α, sequential seeds)
    kind: str = "csp"  # the grid: "csp" (fusion × γ), "detector" (Table 2) or "block" (--block)

    @property
    def has_gradient(self) -> bool:
        return any(v.gradient is not None for t in self.tables for v in t.rows)

    @property
    def has_latency_ort(self) -> bool:
        """The trials measured latency_ort (ONNX Runtime): its columns are shown."""
        return any(v.latency_ort is not None for t in self.tables for v in t.rows)

    @property
    def gradient_compared(self) -> bool:
        """Some variant besides the reference recorded gradient duplication (a figure of the
        reference's bar alone would compare nothing)."""
        return any(v.gradient is not None and not v.reference for t in self.tables for v in t.rows)


def is_ablation(storage: optuna.storages.BaseStorage | str, study_name: str) -> bool:
    study = optuna.load_study(study_name=study_name, storage=storage)
    return "ablation" in study.user_attrs


def stored_rule(described: dict[str, Any], margin: float | None = None) -> Rule:
    """The study's rule (``ablation.rule``; older studies: fixed seeds, the default margin),
    with ``margin`` instead of the stored one when given (re-analysis: nothing is retrained)."""
    stored = described.get("rule", {})
    rule = Rule(
        margin=stored.get("margin", DEFAULT_MARGIN),
        alpha=stored.get("alpha", ALPHA),
        min_seeds=stored.get("min_seeds"),
        max_seeds=stored.get("max_seeds"),
    )
    return rule if margin is None else rule._replace(margin=margin)


def read_ablation(
    storage: optuna.storages.BaseStorage | str, study_name: str, margin: float | None = None
) -> AblationData:
    """Read an ablation study and decide its tables (``margin`` in points: the stored one
    unless given); StudyError if it is not one."""
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
    rule = stored_rule(described, margin)._replace(resolution=score_step(r.score for r in rows))
    tables = []
    for b in bases:
        t = base_table(b, [r for r in rows if r.base == b], variants, ref)
        tables.append(t._replace(rows=decide_rows(t.rows, rule, sequential=True)))
    return AblationData(
        study_name=study_name,
        source=str(described.get("source", "")),
        metric=SCORES.get(score, "accuracy"),
        variants=variants,
        reference=ref,
        seeds=int(described.get("seeds", 0)),
        tables=tables,
        pooled=decide_rows(pooled(rows, variants, ref), rule),
        data=study.user_attrs.get("space", {}).get("data", {}),
        trials=len(trials),
        failed=sum(1 for t in trials if t.state == TrialState.FAIL),
        rule=rule,
        kind=str(described.get("kind") or KIND_OF_REFERENCE.get(ref, "csp")),
    )


def score_step(scores: Sequence[float] | Any, largest: int = 20000) -> float:
    """The step of the stored scores in points: 100/N for the smallest N (20 to ``largest``)
    making every score a whole number of N-ths (an accuracy over N validation images), else
    stats.RESOLUTION (a metric that is not a count, e.g. AP). A common factor of every count
    gives a coarser step: a higher sd floor, never a lower one."""
    values = np.unique(np.asarray(list(scores), dtype=float))
    if values.size < 2:
        return RESOLUTION
    n = np.arange(20, largest + 1, dtype=float)[:, None]
    scaled = values[None, :] * n
    whole = np.all(np.abs(scaled - np.round(scaled)) < 1e-7, axis=1)  # float error ≈ 1e-13
    return 100 / float(n[np.argmax(whole), 0]) if whole.any() else RESOLUTION


def _row(t: optuna.trial.FrozenTrial, score: str) -> SeedRow | None:
    a = t.user_attrs
    if t.state != TrialState.COMPLETE or not a.get("trained") or score not in a:
        return None
    if "ablation_variant" not in a:
        return None
    model = a.get("config", {}).get("model", {})
    grad = a.get(GRADIENT)
    return SeedRow(
        base=a["ablation_base"],
        variant=a["ablation_variant"],
        seed=int(a["ablation_seed"]),
        score=float(a[score]),
        macs=a.get("macs"),
        params=a.get("params"),
        gradient=None if grad is None else float(grad),
        family=str(model.get("family", "")),
        conv_macs=a.get("macs_by_operator", {}).get("conv"),
        latency_ort=None if a.get("latency_ort") is None else float(a["latency_ort"]),
        block="/".join(dict.fromkeys(model.get("block", [])))
        if model.get("family") == "csp_yolo"
        else "",
    )
