"""Seeds that stop when the answer is known (``cspsearch ablate --seeds auto``): the looks, the
α each look may spend, and the table's verdicts replayed look by look. No torch here.

Looking at the data after every round and stopping at the first interval that looks decided
inflates false claims. The rule here holds its error rates under any stopping: α is *spent*
over a fixed schedule of looks (seed counts n₁ < n₂ < … < n_K = max), look k testing at
α_k with Σ α_k = α, so by the union bound the chance that any look makes a false claim
(a difference, an equivalence, a non-inferiority) is at most α, whenever a row stops.
Within a look every row of the table is tested at α_k/k (k: the table's rows, decided or
not; stats.py's Bonferroni family), so the guarantee holds for the table as a whole and for
every kind of claim together. 70% of
α is kept for the last look (n = max) so that a row that needs every seed is judged nearly
as a fixed-seed table would; the rest is split evenly over the earlier looks. A row
undecided at the last look stays ``undecided``; one short of its final look (interrupted, or
failed trials) is ``undecided (stopped at n of N)``, never a verdict of a look not taken.
``smallest_pairs`` says how few pairs can reach each verdict. The share and the looks (3, 6,
10 for the defaults) were chosen on benchmarks/seeds_auto.py's simulation under the earlier
Holm rule (with half of α at the last look, looks 3, 5, 8, 10, 82% of the rows reached the
fixed-seed verdict; with 70% and looks 3, 6, 10, 90%); docs/verdicts.md has the figures of
this rule.

Why α-spending with a Bonferroni split and not an always-valid confidence sequence: the
per-seed differences have an unknown variance and n is 3 to 10, where the mixture-martingale
sequences for sub-Gaussian data are far wider than a t-interval; a handful of pre-set looks
with Student-t tests keeps the rule exact for normal differences and simple to check
(tests/test_sequential.py simulates it).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from cspsearch.stats import ALPHA
from cspsearch.stats import DEFAULT_MARGIN
from cspsearch.stats import RESOLUTION
from cspsearch.stats import Decision
from cspsearch.stats import Interval
from cspsearch.stats import bounds
from cspsearch.stats import claims
from cspsearch.stats import decision
from cspsearch.stats import sd_floor

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


def spending(n_looks: int, alpha: float = ALPHA) -> list[float]:
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
    alpha: float = ALPHA,
    resolution: float = RESOLUTION,
) -> list[Sequential]:
    """Replay the looks over one table's paired differences (each row's in seed order): at
    look j every row is one of the table's k rows tested at α_j/k (a row decided earlier or
    still short of the look counts in k), so by the union bound over looks and rows the chance
    of any false claim in the table is ≤ α, wherever the rows stop. A row stops at the first
    look that decides it; one short of its final look is ``undecided (stopped at n of N)``."""
    schedule = looks(min_seeds, max_seeds)
    levels = spending(len(schedule), alpha)
    k = max(1, len(rows))
    out: list[Sequential | None] = [None] * len(rows)
    last: list[Decision | None] = [None] * len(rows)  # each row's latest look
    for j, (n, level) in enumerate(zip(schedule, levels)):
        for i, r in enumerate(rows):
            if out[i] is not None or len(r) < n:
                continue
            last[i] = decision(r[:n], margin, level, k, resolution)
            if last[i].verdict != "undecided" or j == len(schedule) - 1:
                out[i] = Sequential(last[i], n, True)
    return [
        o or _stopped(r, seen, margin, levels[0], k, resolution, max_seeds)
        for o, r, seen in zip(out, rows, last)
    ]


def replay(
    diffs: np.ndarray, *, min_seeds: int, max_seeds: int, margin: float | None,
    alpha: float = ALPHA, resolution: float = RESOLUTION,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``sequential_table`` on many complete tables at once, for simulations: ``diffs`` of
    shape (tables, rows, ≥ max_seeds) → (verdicts, seeds each row stopped at), both of shape
    (tables, rows); the same ``stats.bounds`` and ``stats.claims`` decide each look."""
    shape = diffs.shape[:2]
    verdicts = np.full(shape, "undecided", dtype=object)
    seeds = np.zeros(shape, dtype=int)
    open_ = np.ones(shape, dtype=bool)
    schedule = looks(min_seeds, max_seeds)
    for n, level in zip(schedule, spending(len(schedule), alpha)):
        part = diffs[:, :, :n]
        mean, sd = part.mean(axis=2), part.std(axis=2, ddof=1)
        _, wide, narrow = bounds(mean, sd, np.full(shape, n), level / shape[1],
                                 sd_floor(resolution))  # fmt: skip
        found = claims(mean, wide, narrow, margin)
        stop = open_ & ((found != "undecided") | (n == schedule[-1]))
        verdicts[stop], seeds[stop] = found[stop], n
        open_ &= ~stop
    return verdicts, seeds


def _stopped(
    r: Sequence[float], seen: Decision | None, margin: float | None, level: float, k: int,
    resolution: float, max_seeds: int,
) -> Sequential:  # fmt: skip
    """A row short of its final look: undecided, with its latest look's interval (none before
    its first look: an interval there would be a look the rule did not take)."""
    note = f"stopped at {len(r)} of {max_seeds}"
    if seen is None:
        found = decision(r[:1], margin, level, k, resolution)  # no look: no interval
        mean = statistics.fmean(r) if r else math.nan
        seen = found._replace(diff=Interval(mean, None, None, len(r)))
    return Sequential(seen._replace(verdict="undecided", note=note), len(r), False)


def smallest_pairs(
    verdict: str, rows: int = 1, margin: float = DEFAULT_MARGIN, alpha: float = ALPHA,
    resolution: float = RESOLUTION, sd: float = 0.0,
) -> int | None:  # fmt: skip
    """The fewest pairs with which one of ``rows`` rows can reach ``verdict`` at a fixed table
    when the per-pair sd is ``sd`` (0: identical differences, the floor): ``equivalent`` at
    Δ = 0, ``non-inferior`` at Δ = +margin, ``better`` / ``worse`` at Δ = ±margin. None above
    1,000 pairs."""
    need = {"equivalent": ("n", margin), "non-inferior": ("n", 2 * margin)}
    half, bound = need.get(verdict, ("w", margin))
    for n in range(2, 1001):
        _, wide, narrow = bounds(0.0, sd, n, alpha / rows, sd_floor(resolution))
        if (narrow if half == "n" else wide) < bound:
            return n
    return None


def needs_seeds(row: Sequential, min_seeds: int, max_seeds: int) -> int:
    """How many seeds a row should have before the next look (its own count if final)."""
    if row.final:
        return row.seeds
    return next(n for n in looks(min_seeds, max_seeds) if n > row.seeds or n == max_seeds)
