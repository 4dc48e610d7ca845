"""cspsearch/sequential.py: the looks and their α, the replay of a table, and a simulation of
the real rule: under a null effect it claims better/worse at most 5% of the time, and with a
true effect at the margin it claims equivalence at most 5% of the time, however it stops."""

from __future__ import annotations

import numpy as np
import pytest

from cspsearch.sequential import looks
from cspsearch.sequential import needs_seeds
from cspsearch.sequential import sequential_table
from cspsearch.sequential import spending

RUNS = 1000  # per case: the rate's standard error is ≈ 0.7 points at 5%


def test_looks_and_spending() -> None:
    assert looks(3, 10) == [3, 6, 10]
    assert looks(3, 3) == [3] and looks(2, 4) == [2, 4] and looks(2, 5) == [2, 4, 5]
    assert sum(spending(3)) == pytest.approx(0.05) and spending(3)[-1] == pytest.approx(0.035)
    with pytest.raises(ValueError):
        looks(5, 3)


def test_a_clear_row_stops_early_and_a_noisy_one_asks_for_more() -> None:
    clear = [-6.0, -5.5, -7.0, -6.2, -5.8, -6.1]
    noisy = [0.5, -2.0, 1.5]
    rows = sequential_table([clear, noisy], min_seeds=3, max_seeds=10, margin=1.0)
    assert rows[0].final and rows[0].decision.verdict == "worse" and rows[0].seeds == 6
    assert not rows[1].final and needs_seeds(rows[1], 3, 10) == 6
    noisier = [*noisy, -3.0, 3.0, -2.5, 2.5, -1.0, 2.0, -1.5]
    last = sequential_table([noisier], min_seeds=3, max_seeds=10, margin=1.0)[0]
    assert last.final and last.seeds == 10  # judged at the last look, whatever it says
    assert last.decision.verdict == "undecided"


def _simulate(effect: float, sd: float, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(RUNS):
        diffs = list(rng.normal(effect, sd, 10))
        row = sequential_table([diffs], min_seeds=3, max_seeds=10, margin=1.0)[0]
        assert row.final
        out.append(row.decision.verdict)
    return out


def test_under_a_null_effect_better_or_worse_stays_under_five_percent() -> None:
    verdicts = _simulate(effect=0.0, sd=1.5, seed=1)
    assert sum(v in ("better", "worse") for v in verdicts) / RUNS <= 0.05


def test_at_the_margin_equivalence_stays_under_five_percent() -> None:
    verdicts = _simulate(effect=1.0, sd=0.8, seed=2)  # the boundary: the hardest true effect
    assert sum(v == "equivalent" for v in verdicts) / RUNS <= 0.05
    verdicts = _simulate(effect=0.0, sd=0.3, seed=3)  # and it can say equivalent at all
    assert sum(v == "equivalent" for v in verdicts) / RUNS > 0.5
