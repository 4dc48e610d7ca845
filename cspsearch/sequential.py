"""Seeds that stop when the answer is known (``cspsearch ablate --seeds auto``): the looks, the
α each look may spend, and the table's verdicts replayed look by look. No torch here.

Looking at the data after every round and stopping at the first interval that looks decided
inflates false claims. The rule here holds its error rates under any stopping: α is *spent*
over a fixed schedule of looks (seed counts n₁ < n₂ < … < n_K = max), look k testing at
α_k with Σ α_k = α, so by the union bound the chance that any look makes a false claim of a
kind (a difference, an equivalence, a non-inferiority) is at most α, whenever a row stops.
Within a look the table's rows are Holm-adjusted at α_k over every row of the table (a row
already decided counts with p = 1), so the guarantee holds for the table as a whole. 70% of
α is kept for the last look (n = max) so that a row that needs every seed is judged nearly
as a fixed-seed table would; the rest is split evenly over the earlier looks. A row
undecided at the last look stays ``undecided``. The share and the looks (3, 6, 10 for the
defaults) were chosen on benchmarks/seeds_auto.py's simulation: with half of α at the last
look (looks 3, 5, 8, 10) 82% of the rows reached the fixed-seed verdict, with 70% and looks
3, 6, 10 90%, at about the same number of trials (sd 2 points, its built-in mix of effects).

Why α-spending with a Bonferroni split and not an always-valid confidence sequence: the
per-seed differences have an unknown variance and n is 3 to 10, where the mixture-martingale
sequences for sub-Gaussian data are far wider than a t-interval; a handful of pre-set looks
with Student-t tests keeps the rule exact for normal differences and simple to check
(tests/test_sequential.py simulates it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from cspsearch.stats import Decision
from cspsearch.stats import adjust
from cspsearch.stats import decision

GROWTH = 2.0  # each look has about twice the previous look's seeds
LAST_SHARE = 0.7  # of α, spent at the last look


def looks(min_seeds: int, max_seeds: int) -> list[int]:
    """The seed counts at which verdicts are taken: min, ×2, …, max."""
    if min_seeds < 2 or max_seeds < min_seeds:
        raise ValueError(f"seeds: need 2 ≤ min ({min_seeds}) ≤ max ({max_seeds})")
    out = [min_seeds]
    while out[-1] < max_seeds:
        out.append(min(max_seeds, max(out[-1] + 1, math.ceil(out[-1] * GROWTH))))
    return out


def spending(n_looks: int, alpha: float = 0.05) -> list[float]:
    """α of each look: LAST_SHARE at the last, the rest evenly over the others (one look:
    all)."""
    if n_looks == 1:
        return [alpha]
    early = alpha * (1 - LAST_SHARE) / (n_looks - 1)
    return [early] * (n_looks - 1) + [alpha * LAST_SHARE]


class Sequential(NamedTuple):
    """A row's verdict under the rule: its decision and the seeds it was taken at."""

    decision: Decision
    seeds: int  # the look that decided it (or the pairs so far, when not final)
    final: bool  # decided, or judged at the last look: no more seeds


def sequential_table(
    rows: Sequence[Sequence[float]],
    *,
    min_seeds: int,
    max_seeds: int,
    margin: float | None,
    alpha: float = 0.05,
) -> list[Sequential]:
    """Replay the looks over one table's paired differences (each row's in seed order): a
    row stops at the first look that decides it; one with fewer pairs than the next look
    needs is not final (its seeds are still being trained)."""
    schedule = looks(min_seeds, max_seeds)
    levels = spending(len(schedule), alpha)
    out: list[Sequential | None] = [None] * len(rows)
    for k, (n, level) in enumerate(zip(schedule, levels)):
        active = [i for i, r in enumerate(rows) if out[i] is None and len(r) >= n]
        filler = _untested(decision([], margin, level))  # not looked at: counts with p = 1
        looked = [
            decision(r[:n], margin, level) if i in active else filler for i, r in enumerate(rows)
        ]
        judged = adjust(looked, level)
        for i in active:
            last = k == len(schedule) - 1
            if judged[i].verdict != "undecided" or last:
                out[i] = Sequential(judged[i], n, True)
    return [
        o or Sequential(decision(r, margin, levels[0]), len(r), False) for o, r in zip(out, rows)
    ]


def _untested(d: Decision) -> Decision:
    """A row that counts in the look's Holm family with p = 1 (decided earlier, or waiting)."""
    return d._replace(p_difference=1.0, p_equivalence=1.0, p_noninferiority=1.0)


def needs_seeds(row: Sequential, min_seeds: int, max_seeds: int) -> int:
    """How many seeds a row should have before the next look (its own count if final)."""
    if row.final:
        return row.seeds
    return next(n for n in looks(min_seeds, max_seeds) if n > row.seeds or n == max_seeds)
