"""Intervals and verdicts, one place for every statistic the reports state (docs/verdicts.md).

A verdict is one ``Decision``: the test, its statistic and df, the interval that the verdict's
test corresponds to (with its level), the p-values, the family it was adjusted over and how —
all computed on the same pairs. The test is the paired Student-t test whose standard error
never falls below the measurement's resolution: an accuracy moves in steps of one validation
image, so the per-pair sd is floored at step/√6 (the sd of the difference of two values each
rounded to the step) and a set of identical differences is no special case. More spread at the
same mean never gives a stronger claim, and no interval has zero width.

One family per table: every row of a table is tested at α/k (k: the rows tested, Bonferroni),
and all its claims are read from its own two intervals — the 1 − 2α/k interval for equivalence
and non-inferiority (each bound a one-sided test at α/k) and the 1 − α/k interval for a
difference (two-sided) — so the printed interval never contradicts the verdict and the chance
of any false claim in the table, of whatever kind, is ≤ α. ``bounds`` and ``claims`` work on
numpy arrays (the simulations use them); ``decision`` / ``decide_table`` /
``estimate_decision`` are the per-row forms. ``paired`` and ``verdict`` are the older
margin-free words (better / worse / within noise) that only the speed and TPE benchmarks
print. No torch here: the report imports this.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats

LEVEL = 0.95  # of a score's interval over seeds (not a verdict's)
ALPHA = 0.05  # every verdict's familywise error rate
DEFAULT_MARGIN = 1.0  # points: ≈ 3 validation images of the digits split (one ≈ 0.37 points)
RESOLUTION = 100 / 269  # points: one image of the bundled digits validation split (269 images)
TEST = "paired t, sd ≥ step/√6"
VERDICTS = ("equivalent", "better", "worse", "non-inferior", "undecided")


class Interval(NamedTuple):
    mean: float
    low: float | None  # None when n < 2 (no spread to estimate)
    high: float | None
    n: int


def interval(values: Sequence[float]) -> Interval:
    """Mean of ``values`` and its 95% Student-t interval (a score over seeds)."""
    n = len(values)
    mean = statistics.fmean(values) if n else math.nan
    if n < 2 or statistics.stdev(values) == 0:
        return Interval(mean, None if n < 2 else mean, None if n < 2 else mean, n)
    sem = statistics.stdev(values) / math.sqrt(n)
    low, high = stats.t.interval(LEVEL, n - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), n)


class Decision(NamedTuple):
    """A verdict on paired differences (variant − reference, in points) with its evidence."""

    verdict: str  # one of VERDICTS
    diff: Interval  # the mean difference with the interval the verdict's test corresponds to
    level: float  # that interval's confidence level, e.g. 0.9944
    kind: str  # "difference" (1 − α/k, two-sided) or "equivalence" (1 − 2α/k)
    test: str  # TEST, or "least squares t" for a fitted estimate
    statistic: float | None  # t of the mean difference against 0
    df: int | None
    se: float | None  # the standard error used (after the floor)
    p_difference: float | None  # Bonferroni-adjusted (× k), two-sided, H0: Δ = 0
    p_equivalence: float | None  # adjusted (× k), TOST's larger one-sided p, H0: |Δ| ≥ m
    p_noninferiority: float | None  # adjusted (× k), one-sided, H0: Δ ≤ −m
    margin: float | None
    alpha: float
    family: int  # k: the rows of the table tested together
    adjustment: str  # e.g. "Bonferroni over 9 rows"
    note: str = ""  # e.g. "stopped at 6 of 10" (a sequential row short of its final look)

    @property
    def said(self) -> str:
        """The verdict as a table prints it, with its note."""
        return f"{self.verdict} ({self.note})" if self.note else self.verdict


def sd_floor(resolution: float) -> float:
    """The smallest per-pair sd a quantised measurement can tell from zero: two values each
    rounded to ``resolution`` differ by a rounding error of sd resolution/√6."""
    return resolution / math.sqrt(6)


def bounds(
    mean: np.ndarray, sd: np.ndarray, n: np.ndarray, alpha_row: float, floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(se, half-width of the 1 − α_row interval, of the 1 − 2α_row interval) per element;
    NaN where n < 2. ``sd`` is floored at ``floor``."""
    n = np.asarray(n, dtype=float)
    df = np.where(n >= 2, n - 1, np.nan)
    se = np.maximum(np.asarray(sd, dtype=float), floor) / np.sqrt(n)
    wide = stats.t.ppf(1 - alpha_row / 2, df) * se
    narrow = stats.t.ppf(1 - alpha_row, df) * se
    return se, wide, narrow


def claims(
    mean: np.ndarray, wide: np.ndarray, narrow: np.ndarray, margin: float | None
) -> np.ndarray:
    """The verdict read from the two intervals (``mean`` ± half-widths), in the order:
    equivalent (the narrow interval inside ±margin; it wins over better/worse), better / worse
    (the wide one excludes 0), non-inferior (the narrow one above −margin), else undecided."""
    mean = np.asarray(mean, dtype=float)
    out = np.full(mean.shape, "undecided", dtype=object)
    m = margin or 0.0
    noninf = (mean - narrow > -m) if margin else np.zeros(mean.shape, bool)
    out[noninf] = "non-inferior"
    out[mean - wide > 0] = "better"
    out[mean + wide < 0] = "worse"
    if margin:
        out[(mean - narrow > -m) & (mean + narrow < m)] = "equivalent"
    return out


def decision(
    differences: Sequence[float],
    margin: float | None = None,
    alpha: float = ALPHA,
    family: int = 1,
    resolution: float = RESOLUTION,
) -> Decision:
    """The verdict on paired ``differences`` (points) as one row of a table of ``family``
    rows tested together at ``alpha``."""
    d = list(differences)
    sd = statistics.stdev(d) if len(d) > 1 else math.nan
    mean = statistics.fmean(d) if d else math.nan
    return _decided(mean, sd, len(d), margin, alpha, family, sd_floor(resolution), TEST)


def decide(differences: Sequence[float], margin: float | None = None, alpha: float = ALPHA) -> str:
    """``decision(...).verdict`` for one row (a table of one)."""
    return decision(differences, margin, alpha).verdict


def decide_paired(
    a: Sequence[float], b: Sequence[float], margin: float | None = None, alpha: float = ALPHA
) -> Decision:
    """``b`` against the reference ``a``, element i of each one pair (e.g. the same seed)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} ≠ {len(b)}")
    return decision([y - x for x, y in zip(a, b)], margin, alpha)


def decide_table(
    rows: Sequence[Sequence[float]],
    margin: float | None = None,
    alpha: float = ALPHA,
    resolution: float = RESOLUTION,
) -> list[Decision]:
    """One table's verdicts: every row with two pairs or more is tested, at α/k each (k: how
    many are), so the chance of any false claim in the table is ≤ α."""
    k = max(1, sum(len(r) >= 2 for r in rows))
    return [decision(r, margin, alpha, k, resolution) for r in rows]


def estimate_decision(
    estimate: float, se: float, df: int, n: int, margin: float | None = None,
    alpha: float = ALPHA, family: int = 1,
) -> Decision:  # fmt: skip
    """``decision`` for a fitted estimate with standard error ``se`` on ``df`` degrees of
    freedom (a least-squares coefficient: df = observations − rank) from ``n`` observations;
    undecided without a finite, positive standard error."""
    ok = df >= 1 and math.isfinite(se) and se > 0
    sd, pairs = (se * math.sqrt(df + 1), df + 1) if ok else (math.nan, 1)
    found = _decided(estimate, sd, pairs, margin, alpha, family, 0.0, "least squares t")
    return found._replace(diff=found.diff._replace(n=n))


def _decided(
    mean: float, sd: float, n: int, margin: float | None, alpha: float, family: int,
    floor: float, test: str,
) -> Decision:  # fmt: skip
    margin = _checked(margin)
    family = max(1, family)
    a = alpha / family
    how = f"Bonferroni over {family} rows" if family > 1 else "none (one row)"
    if n < 2 or not math.isfinite(sd):
        diff = Interval(mean, None, None, n)
        return Decision("undecided", diff, 1 - a, "difference", test, None, None, None,
                        None, None, None, margin, alpha, family, how)  # fmt: skip
    se, wide, narrow = (float(x) for x in bounds(mean, sd, n, a, floor))
    verdict = str(claims(np.array(mean), np.array(wide), np.array(narrow), margin).item())
    kind = "equivalence" if verdict in ("equivalent", "non-inferior") else "difference"
    half = narrow if kind == "equivalence" else wide
    diff = Interval(mean, mean - half, mean + half, n)
    df = n - 1
    p_diff = min(1.0, family * float(2 * stats.t.sf(abs(mean) / se, df)))
    p_eq = p_ni = None
    if margin:
        p_ni = min(1.0, family * float(stats.t.sf((mean + margin) / se, df)))
        p_hi = min(1.0, family * float(stats.t.cdf((mean - margin) / se, df)))
        p_eq = max(p_ni, p_hi)
    level = 1 - 2 * a if kind == "equivalence" else 1 - a
    return Decision(verdict, diff, level, kind, test, mean / se, df, se, p_diff, p_eq, p_ni,
                    margin, alpha, family, how)  # fmt: skip


def _checked(margin: float | None) -> float | None:
    """The margin a test uses: None for none (or 0); ValueError unless a number ≥ 0."""
    if margin is not None and (not math.isfinite(margin) or margin < 0):
        raise ValueError(f"margin {margin!r} must be a number ≥ 0")
    return margin or None


# --- The older margin-free words, for the speed and TPE benchmarks only (no verdict of a table).
class Paired(NamedTuple):
    diff: Interval  # mean of b − a over the pairs, with its 95% interval
    p_value: float | None  # paired t-test; None: n < 2 or no spread
    verdict: str  # "better", "worse", "within noise" or "too few pairs"


def paired(a: Sequence[float], b: Sequence[float]) -> Paired:
    """``b`` against ``a``, element i of each one pair (e.g. the same seed)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} ≠ {len(b)}")
    diff = interval([y - x for x, y in zip(a, b)])
    spread = diff.low is not None and diff.high is not None and diff.high > diff.low
    p = float(stats.ttest_rel(b, a).pvalue) if spread else None
    return Paired(diff, p, verdict(diff))


def verdict(diff: Interval) -> str:
    """Plain words for a difference's interval: which side of zero it lies on, if any."""
    if diff.low is None or diff.high is None:
        return "too few pairs"
    if diff.low > 0:
        return "better"
    if diff.high < 0:
        return "worse"
    return "within noise"
