"""cspsearch/stats.py: its p-values, statistics and intervals against scipy.stats computed here,
the verdicts on fixed numbers, properties over random inputs (more spread never strengthens a
claim; no verdict contradicts its interval; no zero-width interval), and the table's family
error simulated with tables of 9 and 27 rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from scipy import stats as sp

from cspsearch.stats import RESOLUTION
from cspsearch.stats import bounds
from cspsearch.stats import claims
from cspsearch.stats import decide
from cspsearch.stats import decide_table
from cspsearch.stats import decision
from cspsearch.stats import estimate_decision
from cspsearch.stats import interval
from cspsearch.stats import paired

STEP = 100 / 269  # one digits validation image (269 of them), in points
FLOOR = STEP / math.sqrt(6)


def test_interval_matches_scipy() -> None:
    values = [0.929, 0.945, 0.951, 0.959, 0.937]
    mean = sum(values) / len(values)
    low, high = sp.t.interval(0.95, 4, loc=mean, scale=sp.sem(values))
    got = interval(values)
    assert got.n == 5 and got.mean == pytest.approx(mean)
    assert (got.low, got.high) == (pytest.approx(low), pytest.approx(high))
    assert interval([0.9]).low is None and math.isnan(interval([]).mean)


def test_the_benchmarks_paired_words_match_ttest_rel() -> None:
    a, b = [0.93, 0.95, 0.94], [0.94, 0.93, 0.96]
    got = paired(a, b)
    assert got.p_value == pytest.approx(sp.ttest_rel(b, a).pvalue)
    assert got.verdict == "within noise" and paired([0.9], [0.95]).verdict == "too few pairs"


@pytest.mark.parametrize("family", [1, 9])
def test_p_values_statistic_and_interval_match_scipy(family: int) -> None:
    d = [0.9, -0.4, 1.3, 0.2, 0.7, -0.1]  # sd ≈ 0.6, far above the floor: a plain t-test
    got = decision(d, margin=1.0, family=family)
    plain = sp.ttest_1samp(d, 0.0)
    low = sp.ttest_1samp(d, -1.0, alternative="greater").pvalue  # H0: Δ ≤ −1
    high = sp.ttest_1samp(d, 1.0, alternative="less").pvalue  # H0: Δ ≥ +1
    assert got.statistic == pytest.approx(plain.statistic) and got.df == 5
    assert got.p_difference == pytest.approx(min(1, family * plain.pvalue))
    assert got.p_noninferiority == pytest.approx(min(1, family * low))
    assert got.p_equivalence == pytest.approx(min(1, family * max(low, high)))
    a = 0.05 / family
    level = 1 - 2 * a if got.kind == "equivalence" else 1 - a
    assert got.level == pytest.approx(level)
    lo, hi = sp.t.interval(level, 5, loc=np.mean(d), scale=sp.sem(d))
    assert (got.diff.low, got.diff.high) == (pytest.approx(lo), pytest.approx(hi))
    assert got.adjustment == ("Bonferroni over 9 rows" if family == 9 else "none (one row)")


def test_identical_differences_use_the_floor_not_a_special_test() -> None:
    d = [STEP] * 4  # four seeds that each gain one image
    got = decision(d, margin=1.0)
    se = FLOOR / 2  # sd at its floor, √4 pairs
    assert got.se == pytest.approx(se) and got.statistic == pytest.approx(STEP / se)
    assert got.p_difference == pytest.approx(2 * sp.t.sf(STEP / se, 3))
    assert got.diff.high - got.diff.low > 0.1  # never a zero-width interval


def test_verdicts_on_fixed_numbers() -> None:
    assert decide([-0.5, 0.2, -0.3, 0.6, -0.1, 0.0, 0.4, -0.2, 0.1, 0.3]) == "undecided"
    small = [0.2, 0.4, 0.3, 0.5, 0.1, 0.3, 0.2]  # clearly above 0, clearly inside ±1
    assert decide(small) == "better" and decide(small, margin=1.0) == "equivalent"
    assert decide([3, 4, 5, 3, 4], margin=1.0) == "better"
    assert decide([-3, -4, -5, -3, -4], margin=1.0) == "worse"
    assert decide([1.5, -0.8, 0.4, 1.9, -0.6, 0.0], margin=1.0) == "non-inferior"
    assert decide([0.5, -3, 4, 1, -2], margin=1.0) == "undecided"
    assert decide([1.0], margin=1.0) == "undecided"  # one pair says nothing
    with pytest.raises(ValueError, match="margin"):
        decide([1, 2], margin=-1)


def test_the_issues_tie_examples_no_longer_jump() -> None:
    # More spread at (about) the same mean: the claim is never stronger.
    assert decide([2.0] * 5, margin=1.0) == decide([2, 2, 2, 2, 2.37], margin=1.0) == "better"
    tied, spread = decision([STEP] * 3, margin=1.0), decision([STEP, STEP, 2 * STEP], 1.0)
    assert tied.p_equivalence < spread.p_equivalence
    assert spread.verdict != "equivalent" or tied.verdict == "equivalent"


def test_a_table_is_one_family_over_its_tested_rows() -> None:
    clear = [3.1, 2.9, 3.4, 3.0, 2.8]
    weak = [1.0, 0.2, 1.6, 0.5, 1.2]  # two-sided p ≈ 0.034 alone
    nulls = [[0.1, -0.1, 0.2, -0.2, 0.0], [0.3, -0.4, 0.1, 0.2, -0.3]]
    assert decide_table([weak])[0].verdict == "better"
    table = decide_table([clear, weak, *nulls, [1.0]])  # the one-pair row is not tested
    assert [d.verdict for d in table] == ["better", "undecided", "undecided", "undecided",
                                          "undecided"]  # fmt: skip
    assert {d.family for d in table} == {4}
    assert table[1].p_difference == pytest.approx(4 * sp.ttest_1samp(weak, 0).pvalue)


def test_estimate_decision_on_a_fitted_coefficient() -> None:
    small = estimate_decision(0.2, 0.2, 30, 32, margin=1.0)
    assert small.verdict == "equivalent" and small.diff.n == 32
    assert small.p_equivalence == pytest.approx(sp.t.cdf((0.2 - 1.0) / 0.2, 30))
    lo, hi = sp.t.interval(0.90, 30, loc=0.2, scale=0.2)
    assert (small.diff.low, small.diff.high) == (pytest.approx(lo), pytest.approx(hi))
    assert estimate_decision(-2.0, 0.5, 30, 32, margin=1.0).verdict == "worse"
    assert estimate_decision(0.5, 0.3, 30, 32, margin=0.5).verdict == "non-inferior"
    nothing = estimate_decision(1.0, 0.0, 5, 7, margin=1.0)  # no spread: nothing to say
    assert nothing.verdict == "undecided" and nothing.diff.low is None


CLAIMS = {  # what each verdict asserts about the true Δ (points; m the margin)
    "equivalent": {"> -m", "< +m"}, "better": {"> 0", "> -m"}, "worse": {"< 0", "< +m"},
    "non-inferior": {"> -m"}, "undecided": set(),
}  # fmt: skip
DIFFS = st.lists(st.integers(-12, 12), min_size=2, max_size=10).map(
    lambda k: [STEP * x for x in k]  # whole validation images, as real accuracies move
)
MARGINS = st.sampled_from([None, 0.5, 1.0, 2.0])
FAMILIES = st.sampled_from([1, 9, 27])


@settings(max_examples=150, deadline=None, database=None)
@given(DIFFS, st.floats(1.0, 4.0), MARGINS, FAMILIES)
def test_more_spread_at_the_same_mean_never_strengthens_a_claim(
    d: list[float], stretch: float, margin: float | None, family: int
) -> None:
    mean = float(np.mean(d))
    wider = [mean + stretch * (x - mean) for x in d]
    a, b = decision(d, margin, family=family), decision(wider, margin, family=family)
    assert CLAIMS[b.verdict] <= CLAIMS[a.verdict]  # e.g. never non-inferior → better
    for field in ("p_difference", "p_equivalence", "p_noninferiority"):
        before, after = getattr(a, field), getattr(b, field)
        # Below 0.5 a p-value can become a claim; spread only raises it there (above 0.5 the
        # estimate lies on the null's side and spread pulls p towards 0.5: no claim either way).
        assert before is None or min(after, 0.5) >= min(before, 0.5) - 1e-9, field


@settings(max_examples=150, deadline=None, database=None)
@given(DIFFS, MARGINS, FAMILIES)
def test_no_verdict_contradicts_its_interval(
    d: list[float], margin: float | None, family: int
) -> None:
    got = decision(d, margin, family=family)
    low, high, m = got.diff.low, got.diff.high, margin or 0.0
    assert high - low > 0  # no zero-width interval
    inside = margin is not None and -m < low and high < m
    if got.verdict == "equivalent":
        assert inside
    elif got.verdict == "better":
        assert low > 0 and not inside
    elif got.verdict == "worse":
        assert high < 0 and not inside
    elif got.verdict == "non-inferior":
        assert low > -m and not inside  # it may lie above 0: better needs the 1 − α interval
    else:
        assert low <= 0 <= high and not inside and (margin is None or low <= -m)


def _family_error(rows: int, effect: float, tables: int, seeds: int, seed: int) -> float:
    """The share of simulated tables (every row at ``effect``, sd 1 point, scores quantised
    to STEP) with at least one false claim, decided by the real stats.bounds / claims."""
    rng = np.random.default_rng(seed)
    d = STEP * np.round(rng.normal(effect, 1.0, (tables, rows, seeds)) / STEP)
    mean, sd = d.mean(axis=2), d.std(axis=2, ddof=1)
    _, wide, narrow = bounds(mean, sd, np.full(mean.shape, seeds), 0.05 / rows, FLOOR)
    said = claims(mean, wide, narrow, 1.0)
    false = {0.0: ("better", "worse"), 1.0: ("equivalent", "worse"),
             -1.0: ("equivalent", "non-inferior", "better")}[effect]  # fmt: skip
    return float(np.isin(said, false).any(axis=1).mean())


@pytest.mark.parametrize("rows", [9, 27])
@pytest.mark.parametrize("effect", [0.0, 1.0, -1.0])
def test_a_tables_familywise_error_stays_under_alpha(rows: int, effect: float) -> None:
    tables = 2000  # the rate's standard error ≈ 0.5 points at 5%
    for seeds in (3, 10):
        assert _family_error(rows, effect, tables, seeds, seed=rows + seeds) <= 0.05 + 0.01


def test_the_vectorised_rule_is_the_per_row_rule() -> None:
    rng = np.random.default_rng(7)
    d = STEP * np.round(rng.normal(0.3, 0.8, (40, 5)) / STEP)
    mean, sd = d.mean(axis=1), d.std(axis=1, ddof=1)
    _, wide, narrow = bounds(mean, sd, np.full(40, 5), 0.05 / 3, RESOLUTION / math.sqrt(6))
    assert list(claims(mean, wide, narrow, 1.0)) == [
        decision(list(r), 1.0, family=3).verdict for r in d
    ]
