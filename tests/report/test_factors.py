from __future__ import annotations

from typing import Any

import pytest
from scipy import stats as sp

from cspsearch.report.collect import TrialRow
from cspsearch.report.factors import PLAIN
from cspsearch.report.factors import factor_tables
from cspsearch.report.factors import interval
from cspsearch.report.factors import paired_comparisons

T975_1 = 12.7062047  # Student t, 97.5% quantile, 1 degree of freedom


def row(number: int, acc: float, macs: int, evaluated: bool = True, **params: Any) -> TrialRow:
    fusion = params["fusion"]
    return TrialRow(
        number=number,
        state="complete",
        params=params,
        config={},
        values={"val_accuracy": acc, "macs": macs},
        score=acc,
        test_score=acc,
        macs=macs,
        flops=2 * macs,
        n_params=10 * macs,
        latency_ms=None,
        fusion=fusion,
        evaluated=evaluated,
        infeasible="",
        fail_reason="",
        duplicate_of=None,
        seconds=1.0,
    )


ROWS = [
    row(0, 0.90, 100, fusion="none", depth=1),
    row(1, 0.94, 200, fusion="none", depth=2),
    row(2, 0.91, 80, fusion="last", split_ratio=0.5, depth=1),
    row(3, 0.93, 160, fusion="last", split_ratio=0.5, depth=2),
    row(4, 0.85, 70, fusion="first", split_ratio=0.25, depth=1),
    row(5, 0.99, 500, evaluated=False, fusion="full", split_ratio=0.5, depth=1),  # left out
]


def test_interval_by_hand() -> None:
    # mean 0.92, s = 0.0282843, half-width = t · s / √2 = 12.706 · 0.02
    iv = interval([0.90, 0.94])
    assert iv.mean == pytest.approx(0.92) and iv.n == 2
    assert iv.low == pytest.approx(0.92 - T975_1 * 0.02) and iv.high == pytest.approx(
        0.92 + T975_1 * 0.02
    )
    assert interval([0.5]).low is None


def test_factor_tables_by_hand() -> None:
    tables = factor_tables(ROWS)
    assert set(tables) == {"fusion", "split_ratio", "depth"}
    none, first, last = tables["fusion"]
    assert (none.level, none.reference, none.metric.n, none.macs) == ("none", True, 2, 150)
    assert none.paper_change() == ""
    # first: one trial, 0.85 at 70 MACs vs the plain mean 0.92 at 150 MACs.
    assert first.metric.low is None and first.delta_macs_pct == pytest.approx(100 * (70 / 150 - 1))
    assert first.paper_change() == "−53% MACs, −7.0 acc"
    # last: 0.92 at 120 MACs → −20% MACs, ±0 points; the full trial over budget is not counted.
    assert last.metric.n == 2 and last.paper_change() == "−20% MACs, +0.0 acc"
    assert last.metric.high == pytest.approx(0.92 + T975_1 * 0.01)
    # γ is compared with the plain network too.
    plain, quarter, half = tables["split_ratio"]
    assert (plain.level, plain.reference, quarter.level, half.level) == (PLAIN, True, 0.25, 0.5)
    assert half.paper_change() == "−20% MACs, +0.0 acc"
    # depth: reference is depth 1 (0.90, 0.91, 0.85 at 100, 80, 70 MACs).
    d1, d2 = tables["depth"]
    assert (
        d1.reference
        and d1.metric.mean == pytest.approx(0.8866667)
        and d1.macs == pytest.approx(250 / 3)
    )
    assert d2.delta_metric_pp == pytest.approx(100 * (0.935 - 0.8866667), abs=1e-5)
    assert d2.paper_change() == "+116% MACs, +4.8 acc"


def test_paired_comparisons_by_hand() -> None:
    found = {(c.factor, c.a, c.b): c for c in paired_comparisons(ROWS)}
    # depth 1 → 2: pairs (none: +4 points, +100% MACs) and (last γ 0.5: +2 points, +100%).
    depth = found[("depth", 1, 2)]
    assert depth.diff_pp.n == 2 and depth.diff_pp.mean == pytest.approx(3.0)
    assert depth.diff_pp.low == pytest.approx(
        3.0 - T975_1
    ) and depth.macs_pct.mean == pytest.approx(100)
    # none → last, γ ignored: depth 1 (+1 point, −20%) and depth 2 (−1 point, −20%).
    last = found[("fusion", "none", "last")]
    assert (last.diff_pp.n, last.diff_pp.mean, last.macs_pct.mean) == (
        2,
        pytest.approx(0),
        pytest.approx(-20),
    )
    assert found[("fusion", "none", "first")].diff_pp.mean == pytest.approx(-5)
    # first (γ 0.25) and last (γ 0.5) never share everything else, nor do the two γ values.
    assert ("fusion", "first", "last") not in found and ("split_ratio", 0.25, 0.5) not in found


def test_paired_comparisons_are_decided_with_the_margin_and_holm() -> None:
    # depth 1 → 2 on eight architectures (fusion × γ pairs): each pair gains 0.2 ± 0.1 points.
    gains = [0.2, 0.1, 0.3, 0.2, 0.15, 0.25, 0.2, 0.1]
    rows, n = [], 0
    for i, gain in enumerate(gains):
        width = 16 * (i + 1)  # one architecture per width; depth is the only difference
        rows.append(row(n, 0.90, 100, fusion="none", depth=1, width=width))
        rows.append(row(n + 1, 0.90 + gain / 100, 200, fusion="none", depth=2, width=width))
        n += 2
    depth = {(c.a, c.b): c for c in paired_comparisons(rows) if c.factor == "depth"}[1, 2]
    assert depth.diff_pp.n == 8 and depth.diff_pp.mean == pytest.approx(0.1875)
    assert depth.verdict == "equivalent"  # inside ±1 point, though clearly not zero
    assert {c.verdict for c in paired_comparisons(rows, margin=0) if c.factor == "depth"} == {
        "better"
    }


def test_paired_comparisons_are_one_family_within_a_factor() -> None:
    # depth 1 → 2 alone: p ≈ 0.033, better. With a third depth the factor has three
    # comparisons, one family: each p times 3 (≈ 0.098), no longer decided.
    gains = [1.0, 0.2, 0.5, -0.1, 0.8, 0.3, 0.9, -0.2]
    two = []
    for i, gain in enumerate(gains):
        two.append(row(3 * i, 0.90, 100, fusion="none", depth=1, width=i))
        two.append(row(3 * i + 1, 0.90 + gain / 100, 200, fusion="none", depth=2, width=i))
    three = two + [
        row(3 * i + 2, 0.90 + (-1) ** i / 100, 300, fusion="none", depth=3, width=i)
        for i in range(len(gains))
    ]
    alone = sp.ttest_1samp(gains, 0.0).pvalue  # the plain paired t-test, computed here

    def one_two(rows: list[TrialRow], family: int) -> str:
        (c,) = [
            c
            for c in paired_comparisons(rows, margin=0)
            if (c.factor, c.a, c.b) == ("depth", 1, 2)
        ]
        assert c.decision.family == family
        assert c.decision.p_difference == pytest.approx(min(1.0, family * alone), rel=1e-6)
        return c.verdict

    assert alone < 0.05 < 3 * alone
    assert one_two(two, 1) == "better" and one_two(three, 3) == "undecided"
