"""cspsearch/stats.py against scipy on fixed numbers, and the verdict's three answers."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sp

from cspsearch.stats import interval
from cspsearch.stats import paired


def test_interval_matches_scipy() -> None:
    values = [0.929, 0.945, 0.951, 0.959, 0.937]
    mean = sum(values) / len(values)
    low, high = sp.t.interval(0.95, 4, loc=mean, scale=sp.sem(values))
    got = interval(values)
    assert got.n == 5 and got.mean == pytest.approx(mean)
    assert (got.low, got.high) == (pytest.approx(low), pytest.approx(high))


def test_interval_of_one_value_has_no_bounds() -> None:
    assert interval([0.9]).low is None and math.isnan(interval([]).mean)


def test_paired_matches_ttest_rel_and_says_within_noise() -> None:
    a, b = [0.93, 0.95, 0.94], [0.94, 0.93, 0.96]
    got = paired(a, b)
    assert got.p_value == pytest.approx(sp.ttest_rel(b, a).pvalue)
    assert got.diff.low < 0 < got.diff.high and got.verdict == "within noise"


def test_paired_verdicts() -> None:
    assert paired([0.90, 0.91, 0.92], [0.95, 0.97, 0.96]).verdict == "better"
    assert paired([0.95, 0.97, 0.96], [0.90, 0.91, 0.92]).verdict == "worse"
    assert paired([0.9], [0.95]).verdict == "too few pairs"
    with pytest.raises(ValueError):
        paired([0.9, 0.8], [0.9])


def test_equal_differences_need_the_sign_test_to_count() -> None:
    # Two seeds that both gain exactly one image of 269: a zero-width t-interval, but two pairs
    # of one sign are a coin flipped twice (sign test p 0.5).
    one = 1 / 269
    two = paired([0.90, 0.92], [0.90 + one, 0.92 + one])
    assert two.verdict == "within noise" and two.p_value == pytest.approx(0.5)
    six = paired([0.9] * 6, [0.9 + one] * 6)
    assert six.verdict == "better" and six.p_value == pytest.approx(sp.binomtest(6, 6).pvalue)
    assert paired([0.9] * 6, [0.9 - one] * 6).verdict == "worse"
    assert paired([0.9, 0.8], [0.9, 0.8]).verdict == "within noise"
    # Accuracies as the trainer computes them (correct / n): equal up to float rounding.
    rounded = paired([241 / 269, 250 / 269, 260 / 269], [242 / 269, 251 / 269, 261 / 269])
    assert rounded.verdict == "within noise" and rounded.p_value == pytest.approx(0.25)


# --- decide: equivalence, non-inferiority, multiplicity


def test_decide_on_a_null_effect_is_undecided_without_a_margin() -> None:
    from cspsearch.stats import decide

    assert decide([-0.5, 0.2, -0.3, 0.6, -0.1, 0.0, 0.4, -0.2, 0.1, 0.3]) == "undecided"


def test_a_small_difference_is_equivalent_even_when_it_is_not_zero() -> None:
    from cspsearch.stats import decide
    from cspsearch.stats import decision

    diffs = [0.2, 0.4, 0.3, 0.5, 0.1, 0.3, 0.2]  # clearly above 0, clearly inside ±1
    assert decision(diffs).verdict == "better"  # without a margin
    assert decide(diffs, margin=1.0) == "equivalent"
    assert decide(diffs, margin=0.3) == "better"  # the margin is too tight for equivalence


def test_beyond_the_margin_is_better_or_worse_never_equivalent() -> None:
    from cspsearch.stats import decide

    assert decide([3, 4, 5, 3, 4], margin=1.0) == "better"
    assert decide([-3, -4, -5, -3, -4], margin=1.0) == "worse"


def test_non_inferior_when_only_the_lower_bound_is_known() -> None:
    from cspsearch.stats import decide

    diffs = [1.5, -0.8, 0.4, 1.9, -0.6, 0.0]  # above −1 for sure, maybe above +1, maybe 0
    assert decide(diffs, margin=1.0) == "non-inferior"


def test_noisy_differences_are_undecided() -> None:
    from cspsearch.stats import decide

    assert decide([0.5, -3, 4, 1, -2], margin=1.0) == "undecided"
    assert decide([1.0], margin=1.0) == "undecided"  # one pair says nothing


def test_quantised_ties_use_the_exact_sign_tests() -> None:
    from cspsearch.stats import decide

    one_image = 100 / 270
    assert decide([one_image] * 4, margin=1.0) == "undecided"  # 0.5⁴ = 0.0625
    assert decide([one_image] * 5, margin=1.0) == "equivalent"  # 0.5⁵ = 0.031 on both sides
    assert decide([2.0] * 5, margin=1.0) == "non-inferior"  # better needs 2 · 0.5⁵ < 0.05
    assert decide([2.0] * 6, margin=1.0) == "better"
    assert decide([0.0] * 8) == "undecided"


def test_a_negative_margin_is_refused() -> None:
    from cspsearch.stats import decide

    with pytest.raises(ValueError, match="margin"):
        decide([1, 2], margin=-1)


def test_holm_adjusts_within_a_table() -> None:
    from cspsearch.stats import decide_table
    from cspsearch.stats import holm

    assert holm([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06])
    clear = [3.1, 2.9, 3.4, 3.0, 2.8]  # p ≈ 1e-5: survives any adjustment
    weak = [1.0, 0.2, 1.6, 0.5, 1.2]  # two-sided p ≈ 0.022 alone
    nulls = [[0.1, -0.1, 0.2, -0.2, 0.0], [0.3, -0.4, 0.1, 0.2, -0.3]]
    assert decide_table([weak])[0].verdict == "better"
    table = decide_table([clear, weak, *nulls])  # weak: 3 × 0.022 > 0.05
    assert [d.verdict for d in table] == ["better", "undecided", "undecided", "undecided"]
    assert table[1].adjusted == "Holm over 4 rows"


def test_estimate_decision_on_a_fitted_coefficient() -> None:
    from cspsearch.stats import estimate_decision

    small = estimate_decision(0.2, 0.2, 30, 32, margin=1.0)
    assert small.verdict == "equivalent" and small.diff.low < 0.2 < small.diff.high
    assert small.p_equivalence == pytest.approx(sp.t.cdf((0.2 - 1.0) / 0.2, 30))
    assert estimate_decision(0.2, 0.2, 30, 32).verdict == "undecided"  # no margin
    assert estimate_decision(-2.0, 0.5, 30, 32, margin=1.0).verdict == "worse"
    assert estimate_decision(0.0, 1.0, 30, 32, margin=1.0).verdict == "undecided"
    assert estimate_decision(0.6, 0.5, 30, 32, margin=3.0).verdict == "equivalent"
    assert estimate_decision(0.5, 0.3, 30, 32, margin=0.5).verdict == "non-inferior"
    nothing = estimate_decision(1.0, float("nan"), 0, 1, margin=1.0)
    assert nothing.verdict == "undecided" and nothing.diff.low is None
