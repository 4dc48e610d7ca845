"""Intervals, paired differences and verdicts, one place for every statistic the reports state.

All intervals are Student-t intervals (95% unless a verdict's α says otherwise;
``scipy.stats.t``). Verdicts are decided here and nowhere else (docs/verdicts.md): ``decide``
and ``decision`` on paired differences, ``estimate_decision`` on a fitted estimate with its
standard error (the search report's adjusted factor effects), ``decide_table`` / ``adjust``
for Holm's adjustment within one table. ``equivalent`` is the two one-sided tests (TOST)
inside ±margin, ``better`` / ``worse`` the two-sided test, ``non-inferior`` the one-sided test
against −margin. When every pair differs by exactly the same amount (accuracies on a small
split are quantised, so two seeds can both gain one image) the t-tests are degenerate and the
exact sign test of the same hypothesis stands in. ``paired`` and ``verdict`` are the older
margin-free words (better / worse / within noise) that the speed and TPE benchmarks still
print. No torch here: the report imports this.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple

from scipy import stats

LEVEL = 0.95


class Interval(NamedTuple):
    mean: float
    low: float | None  # None when n < 2 (no spread to estimate)
    high: float | None
    n: int


def interval(values: Sequence[float]) -> Interval:
    """Mean of ``values`` and its 95% Student-t interval."""
    return _interval_at(values, LEVEL)


class Paired(NamedTuple):
    diff: Interval  # mean of b − a over the pairs, with its interval
    p_value: float | None  # paired t-test (sign test when every difference is equal); None: n < 2
    verdict: str  # "better", "worse", "within noise" or "too few pairs"


def paired(a: Sequence[float], b: Sequence[float]) -> Paired:
    """``b`` against ``a``, element i of each one pair (e.g. the same seed)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} ≠ {len(b)}")
    diffs = [y - x for x, y in zip(a, b)]
    diff = interval(diffs)
    if diff.n < 2:
        return Paired(diff, None, verdict(diff))
    if max(diffs) - min(diffs) > 1e-12:  # a spread to estimate (beyond float rounding)
        return Paired(diff, float(stats.ttest_rel(b, a).pvalue), verdict(diff))
    if abs(diff.mean) <= 1e-12:  # no spread and no difference
        return Paired(diff, None, "within noise")
    sign = stats.binomtest(sum(d > 0 for d in diffs), len(diffs)).pvalue  # no spread: signs
    said = verdict(diff) if sign < 1 - LEVEL else "within noise"
    return Paired(diff, float(sign), said)


def verdict(diff: Interval) -> str:
    """Plain words for a difference's interval: which side of zero it lies on, if any."""
    if diff.low is None or diff.high is None:
        return "too few pairs"
    if diff.low > 0:
        return "better"
    if diff.high < 0:
        return "worse"
    return "within noise"


# --- Decided answers: equivalence, non-inferiority and multiplicity (docs/verdicts.md).
VERDICTS = ("equivalent", "better", "worse", "non-inferior", "undecided")
DEFAULT_MARGIN = 1.0  # points: ≈ 3 validation images of the digits split (one ≈ 0.37 points)


class Decision(NamedTuple):
    """A verdict on paired differences (variant − reference, in points) and its tests."""

    verdict: str  # one of VERDICTS
    diff: Interval  # the mean difference with its 1 − α Student-t interval (not adjusted)
    p_difference: float | None  # two-sided, H0: Δ = 0 (better / worse)
    p_equivalence: float | None  # TOST, the larger one-sided p, H0: |Δ| ≥ margin
    p_noninferiority: float | None  # one-sided, H0: Δ ≤ −margin
    margin: float | None
    alpha: float
    adjusted: str = ""  # how the p-values were adjusted, e.g. "Holm over 9 rows"


def decide(differences: Sequence[float], margin: float | None = None, alpha: float = 0.05) -> str:
    """The verdict on paired ``differences`` (variant − reference, in points): ``equivalent``
    (TOST at level α puts Δ inside ±margin; it wins over better/worse: a difference too small
    to matter is equivalent even when it is not zero), ``better`` / ``worse`` (the 1 − α
    interval excludes 0), ``non-inferior`` (the one-sided bound shows Δ above −margin),
    else ``undecided``. Without a margin only better / worse / undecided. Every pair differing
    by the same amount (quantised accuracy) makes each t-test degenerate: the exact sign test
    of the same hypothesis stands in (docs/verdicts.md)."""
    return decision(differences, margin, alpha).verdict


def decision(
    differences: Sequence[float], margin: float | None = None, alpha: float = 0.05
) -> Decision:
    """``decide`` with its interval and p-values."""
    margin = _checked(margin)
    d = list(differences)
    n = len(d)
    diff = _interval_at(d, 1 - alpha)
    if n < 2:
        return Decision("undecided", diff, None, None, None, margin, alpha)
    if max(d) - min(d) <= 1e-12:
        p = _sign_tests(d[0], n, margin)
    else:
        p = _t_tests(diff.mean, statistics.stdev(d) / math.sqrt(n), n - 1, margin)
    return Decision(verdict_of(diff.mean, *p, alpha), diff, *p, margin, alpha)


def estimate_decision(
    estimate: float, se: float, df: int, n: int, margin: float | None = None, alpha: float = 0.05
) -> Decision:
    """``decision`` for an estimate with standard error ``se`` on ``df`` degrees of freedom
    (e.g. a least-squares coefficient: df = observations − rank), from ``n`` observations;
    undecided without a finite, positive standard error."""
    margin = _checked(margin)
    if df < 1 or not math.isfinite(se) or se <= 0:
        bounds = (estimate, estimate) if se == 0 and df >= 1 else (None, None)
        diff = Interval(estimate, *bounds, n)
        return Decision("undecided", diff, None, None, None, margin, alpha)
    low, high = stats.t.interval(1 - alpha, df, loc=estimate, scale=se)
    p = _t_tests(estimate, se, df, margin)
    diff = Interval(estimate, float(low), float(high), n)
    return Decision(verdict_of(estimate, *p, alpha), diff, *p, margin, alpha)


def decide_paired(
    a: Sequence[float], b: Sequence[float], margin: float | None = None, alpha: float = 0.05
) -> Decision:
    """``b`` against the reference ``a``, element i of each one pair (e.g. the same seed)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} ≠ {len(b)}")
    return decision([y - x for x, y in zip(a, b)], margin, alpha)


def _checked(margin: float | None) -> float | None:
    """The margin a test uses: None for none (or 0); ValueError unless a number ≥ 0."""
    if margin is not None and (not math.isfinite(margin) or margin < 0):
        raise ValueError(f"margin {margin!r} must be a number ≥ 0")
    return margin or None


def verdict_of(
    mean: float, p_diff: float | None, p_equiv: float | None, p_noninf: float | None,
    alpha: float,
) -> str:  # fmt: skip
    """The verdict from the three tests' p-values, in the order of ``decide``."""
    if p_equiv is not None and p_equiv < alpha:
        return "equivalent"
    if p_diff is not None and p_diff < alpha:
        return "better" if mean > 0 else "worse"
    if p_noninf is not None and p_noninf < alpha:
        return "non-inferior"
    return "undecided"


def _t_tests(
    mean: float, se: float, df: int, margin: float | None
) -> tuple[float, float | None, float | None]:
    p_diff = float(2 * stats.t.sf(abs(mean) / se, df))
    if margin is None:
        return p_diff, None, None
    p_low = float(stats.t.sf((mean + margin) / se, df))  # H0: Δ ≤ −margin
    p_high = float(stats.t.cdf((mean - margin) / se, df))  # H0: Δ ≥ +margin
    return p_diff, max(p_low, p_high), p_low


def _sign_tests(
    d: float, n: int, margin: float | None
) -> tuple[float, float | None, float | None]:
    """Every pair differs by ``d``: exact sign tests, n pairs all on one side of each bound."""
    p_diff = 1.0 if abs(d) <= 1e-12 else min(1.0, 2 * 0.5**n)  # two-sided
    if margin is None:
        return p_diff, None, None
    p_equiv = 0.5**n if abs(d) < margin else 1.0
    return p_diff, p_equiv, 0.5**n if d > -margin else 1.0


def _interval_at(values: Sequence[float], level: float) -> Interval:
    n = len(values)
    mean = statistics.fmean(values) if n else math.nan
    if n < 2:
        return Interval(mean, None, None, n)
    sd = statistics.stdev(values)
    if sd == 0:
        return Interval(mean, mean, mean, n)
    low, high = stats.t.interval(level, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return Interval(mean, float(low), float(high), n)


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (family-wise error ≤ α when compared with α); None
    (no test) stays None and does not count in the family."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m, out, running = len(tested), list(p_values), 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


def decide_table(
    rows: Sequence[Sequence[float]], margin: float | None = None, alpha: float = 0.05
) -> list[Decision]:
    """One table's verdicts, Holm-adjusted within the table: each claim (a difference, an
    equivalence, a non-inferiority) is its own family over the rows, so the chance of any
    false claim of one kind in the table stays ≤ α. Intervals are shown unadjusted."""
    raw = [decision(r, margin, alpha) for r in rows]
    return adjust(raw, alpha)


def adjust(raw: Sequence[Decision], alpha: float) -> list[Decision]:
    """``raw`` with Holm-adjusted p-values and the verdicts they give (see decide_table)."""
    fam = [holm([getattr(d, f) for d in raw]) for f in P_FIELDS]
    note = f"Holm over {len(raw)} rows"
    return [
        d._replace(
            p_difference=pd, p_equivalence=pe, p_noninferiority=pn, adjusted=note,
            verdict="undecided" if d.diff.n < 2 else verdict_of(d.diff.mean, pd, pe, pn, alpha),
        )
        for d, pd, pe, pn in zip(raw, *fam)
    ]  # fmt: skip


P_FIELDS = ("p_difference", "p_equivalence", "p_noninferiority")
