"""Intervals, paired differences and verdicts, one place for every statistic the reports state.

All intervals are 95% Student-t intervals of a mean (``scipy.stats.t.interval``); paired tests
are ``scipy.stats.ttest_rel``. A difference is "within noise" when its interval contains zero
(equivalently, the paired t-test's p ≥ 0.05); with fewer than two pairs nothing can be said and
the verdict says so. When every pair differs by exactly the same amount (accuracies on a small
split are quantised, so two seeds can both gain one image) the t-interval has zero width and
would call any such difference real; the verdict then falls back to the two-sided sign test
(``scipy.stats.binomtest``), which needs six pairs of one sign to say better or worse.
No torch here: the report imports this.
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
    n = len(values)
    mean = statistics.fmean(values) if n else math.nan
    if n < 2:
        return Interval(mean, None, None, n)
    sd = statistics.stdev(values)
    if sd == 0:
        return Interval(mean, mean, mean, n)
    low, high = stats.t.interval(LEVEL, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return Interval(mean, float(low), float(high), n)


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


def estimate_interval(estimate: float, se: float, df: int, n: int) -> Interval:
    """95% Student-t interval of an estimate with standard error ``se`` on ``df`` degrees of
    freedom (e.g. a least-squares coefficient: df = observations − rank); no bounds when df < 1
    or the standard error is not finite."""
    if df < 1 or not math.isfinite(se):
        return Interval(estimate, None, None, n)
    if se == 0:
        return Interval(estimate, estimate, estimate, n)
    low, high = stats.t.interval(LEVEL, df, loc=estimate, scale=se)
    return Interval(estimate, float(low), float(high), n)
