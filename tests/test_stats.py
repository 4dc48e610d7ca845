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
