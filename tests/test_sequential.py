"""cspsearch/sequential.py: the looks and their α, the replay of a table (rows that stop early,
rows short of their final look), the vectorised replay against the per-row one, the smallest
pairs for each verdict, and whole tables of 9 and 27 rows simulated under the rule: the
chance of any false claim in a table stays ≤ α, however its rows stop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cspsearch.sequential import looks
from cspsearch.sequential import needs_seeds
from cspsearch.sequential import replay
from cspsearch.sequential import sequential_table
from cspsearch.sequential import smallest_pairs
from cspsearch.sequential import spending
from cspsearch.stats import RESOLUTION
from cspsearch.stats import decision

AUTO = {"min_seeds": 3, "max_seeds": 10, "margin": 1.0}


def test_looks_and_spending() -> None:
    assert looks(3, 10) == [3, 6, 10]
    assert looks(3, 3) == [3] and looks(2, 4) == [2, 4] and looks(2, 5) == [2, 4, 5]
    assert sum(spending(3)) == pytest.approx(0.05) and spending(3)[-1] == pytest.approx(0.035)
    with pytest.raises(ValueError):
        looks(5, 3)


def test_a_clear_row_stops_early_and_a_noisy_one_asks_for_more() -> None:
    clear = [-6.0, -5.5, -7.0, -6.2, -5.8, -6.1]
    noisy = [0.5, -2.0, 1.5]
    rows = sequential_table([clear, noisy], **AUTO)
    assert rows[0].final and rows[0].decision.verdict == "worse" and rows[0].seeds == 6
    assert rows[0].decision.family == 2 and rows[0].decision.alpha == pytest.approx(0.0075)
    assert not rows[1].final and needs_seeds(rows[1], 3, 10) == 6
    noisier = [*noisy, -3.0, 3.0, -2.5, 2.5, -1.0, 2.0, -1.5]
    last = sequential_table([noisier], **AUTO)[0]
    assert last.final and last.seeds == 10  # judged at the last look, whatever it says
    assert last.decision.verdict == "undecided"


def test_a_row_short_of_its_final_look_is_undecided_with_where_it_stopped() -> None:
    # Eight pairs clearly above −1 (alone at α they would be non-inferior), but the rule's
    # looks are at 3, 6 and 10: the row stopped between looks, so it is not decided.
    eight = [1.5, -0.8, 0.9, 0.4, 1.9, -0.6, 0.0, 2.0]
    assert decision(eight, 1.0).verdict == "non-inferior"
    row = sequential_table([eight, [5.0, 5.1, 4.9]], **AUTO)[0]
    assert not row.final and row.decision.verdict == "undecided"
    assert row.decision.said == "undecided (stopped at 8 of 10)"
    assert row.decision.diff.n == 6  # the interval of its latest look (6 pairs), not of 8
    two = sequential_table([[0.4, 0.5]], **AUTO)[0]  # before its first look: no interval
    assert two.decision.said == "undecided (stopped at 2 of 10)" and two.decision.diff.low is None


def test_the_vectorised_replay_is_the_table_replay() -> None:
    rng = np.random.default_rng(5)
    d = RESOLUTION * np.round(rng.normal(0.4, 1.0, (30, 9, 10)) / RESOLUTION)
    verdicts, seeds = replay(d, **AUTO)
    for t in range(len(d)):
        rows = sequential_table([list(r) for r in d[t]], **AUTO)
        assert [r.decision.verdict for r in rows] == list(verdicts[t])
        assert [r.seeds for r in rows] == list(seeds[t])


@pytest.mark.parametrize("rows", [1, 9, 27])
@pytest.mark.parametrize("verdict", ["equivalent", "non-inferior", "better"])
def test_smallest_pairs_is_the_smallest(rows: int, verdict: str) -> None:
    n = smallest_pairs(verdict, rows)
    delta = {"equivalent": 0.0, "non-inferior": 1.0, "better": 1.0}[verdict]
    # Identical differences: the sd at its floor, the most favourable data there is.
    assert decision([delta] * n, 1.0, family=rows).verdict == verdict
    if n > 2:
        assert decision([delta] * (n - 1), 1.0, family=rows).verdict != verdict


def _false_claims(rows: int, effect: float, tables: int, seed: int) -> float:
    """The share of whole simulated tables (every row at ``effect``, sd 1 point, scores in
    whole images) with a false claim anywhere, under the real rule's vectorised replay."""
    rng = np.random.default_rng(seed)
    d = RESOLUTION * np.round(rng.normal(effect, 1.0, (tables, rows, 10)) / RESOLUTION)
    verdicts, _ = replay(d, **AUTO)
    false = {0.0: ("better", "worse"), 1.0: ("equivalent", "worse")}[effect]
    return float(np.isin(verdicts, false).any(axis=1).mean())


@pytest.mark.parametrize("rows", [9, 27])
@pytest.mark.parametrize("effect", [0.0, 1.0])  # the null; every row at the margin
def test_a_whole_auto_table_keeps_its_familywise_error(rows: int, effect: float) -> None:
    tables = 2000  # the rate's standard error ≈ 0.5 points at 5%
    rate = _false_claims(rows, effect, tables, seed=rows)
    assert rate <= 0.05 + 0.01
    assert math.isfinite(rate)


def test_the_rule_can_decide_at_all() -> None:
    rng = np.random.default_rng(3)
    d = RESOLUTION * np.round(rng.normal(0.0, 0.3, (500, 9, 10)) / RESOLUTION)
    verdicts, seeds = replay(d, **AUTO)
    assert (verdicts == "equivalent").mean() > 0.5 and (seeds < 10).any()
