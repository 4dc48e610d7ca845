"""Adjusted factor effects: each level's change against its reference with the other searched
factors held fixed, from one least-squares fit (numpy; no torch).

A search samples factors together, so the trials of one level also differ in every other factor
and a raw average per level can show another factor's effect. Here the score (in points) is
fitted by ordinary least squares on an intercept and every searched factor's levels, one-hot
with the factor's reference level left out; a level's *adjusted effect* is its coefficient, with
its standard error on n − rank degrees of freedom and its verdict against the margin
(``stats.estimate_decision``: equivalent / better / worse / non-inferior / undecided, alone;
factors.py re-decides a factor's levels as one family). A parameter a trial does not have
(split_ratio of an unsplit network) is the level ``PLAIN``.

The plain network has no split ratio, so "fusion f against none" and "γ against the plain
network" cannot be told apart one at a time; for these two the effect is the change from the
plain network to the level, averaged over the other CSP factor's levels in the proportions the
search trained them. A change that no fit can separate from another factor is "not estimable".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

import numpy as np

from cspsearch.report.collect import TrialRow
from cspsearch.stats import Decision
from cspsearch.stats import estimate_decision

PLAIN = "none (plain network)"  # the level of split_ratio for an unsplit network
PARTNER = {"fusion": "split_ratio", "split_ratio": "fusion"}  # the conditional CSP pair
HOW = (
    "least squares over all searched factors (one-hot levels, intercept), the other factors "
    "held fixed; fusion and γ against the plain network averaged over the other CSP factor"
)


def level_of(r: TrialRow, factor: str) -> Any:
    return r.params.get(factor, PLAIN)


def adjusted_effects(
    rows: Sequence[TrialRow],
    score: Callable[[TrialRow], float],
    refs: dict[str, Any],
    margin: float | None = None,
) -> dict[str, dict[Any, Decision | None]]:
    """factor → level → adjusted change of ``score`` × 100 (points) against ``refs[factor]``
    with its unadjusted verdict (± ``margin`` points); None where the design cannot separate
    it from the other factors."""
    columns = [
        (f, lv)
        for f in sorted(refs)
        for lv in sorted({level_of(r, f) for r in rows}, key=repr)
        if lv != refs[f]
    ]
    if not rows or not columns:
        return {}
    index = {c: i + 1 for i, c in enumerate(columns)}
    x = np.zeros((len(rows), len(columns) + 1))
    x[:, 0] = 1.0
    for i, r in enumerate(rows):
        for f in refs:
            j = index.get((f, level_of(r, f)))
            if j is not None:
                x[i, j] = 1.0
    y = np.array([100 * score(r) for r in rows])
    fit = _Fit(x, y)
    out: dict[str, dict[Any, Decision | None]] = {f: {} for f in refs}
    for f, lv in columns:
        c = np.zeros(x.shape[1])
        c[index[(f, lv)]] = 1.0
        if not fit.estimable(c) and PARTNER.get(f) in refs:
            c += _partner_average(rows, PARTNER[f], refs[PARTNER[f]], index, x.shape[1])
        out[f][lv] = fit.decision(c, margin) if fit.estimable(c) else None
    return out


def effect_verdict(d: Decision | None) -> str:
    """The decision's verdict, or why nothing can be said."""
    if d is None:
        return "not estimable (confounded)"
    if d.diff.low is None:
        return "too few trials"
    return d.verdict


def _partner_average(
    rows: Sequence[TrialRow], partner: str, ref: Any, index: dict, width: int
) -> np.ndarray:
    """The partner factor's levels (its reference left out) in their trained proportions."""
    levels = [level_of(r, partner) for r in rows if level_of(r, partner) != ref]
    c = np.zeros(width)
    for lv in levels:
        c[index[(partner, lv)]] += 1.0 / len(levels)
    return c


class _Fit:
    """An ordinary least-squares fit, rank-deficient designs included (pseudo-inverse)."""

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.n = len(y)
        pinv = np.linalg.pinv(x)
        self.beta = pinv @ y
        self.rank = int(np.linalg.matrix_rank(x))
        self.rowspace = pinv @ x  # projects a contrast onto the estimable ones
        self.unscaled = pinv @ pinv.T  # (XᵀX)⁺
        residual = y - x @ self.beta
        self.df = self.n - self.rank
        self.s2 = float(residual @ residual) / self.df if self.df > 0 else math.nan

    def estimable(self, c: np.ndarray) -> bool:
        return bool(np.allclose(self.rowspace @ c, c, atol=1e-8))

    def decision(self, c: np.ndarray, margin: float | None) -> Decision:
        variance = self.s2 * float(c @ self.unscaled @ c)
        se = math.sqrt(max(variance, 0.0)) if math.isfinite(variance) else math.nan
        return estimate_decision(float(c @ self.beta), se, self.df, self.n, margin)
