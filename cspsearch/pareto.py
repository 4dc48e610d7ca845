"""Pareto dominance and two-objective hypervolume on plain numbers (a leaf: no imports).

The one place dominance is written; early stopping (trials/early_stop.py), the report
(report/collect.py, report/hypervolume.py) and the benchmark share it.
"""

from __future__ import annotations

from collections.abc import Sequence


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` dominates ``b`` (every value minimised): no worse anywhere, better somewhere."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def minimised(point: Sequence[float], directions: Sequence[str]) -> list[float]:
    """``point`` with every maximised value negated, so that smaller is better everywhere."""
    return [v if d == "minimize" else -v for v, d in zip(point, directions)]


def pareto_mask(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[bool]:
    """True for each point no other point dominates (≥ as good everywhere, better somewhere)."""
    signed = [minimised(p, directions) for p in points]
    return [not any(dominates(o, p) for o in signed) for p in signed]


def hypervolume_2d(points: Sequence[Sequence[float]], ref: Sequence[float]) -> float:
    """Area dominated by ``points`` (both objectives minimised) and bounded by ``ref``."""
    inside = sorted((x, y) for x, y in points if x < ref[0] and y < ref[1])
    area, best_y = 0.0, ref[1]
    for i, (x, y) in enumerate(inside):
        best_y = min(best_y, y)
        next_x = inside[i + 1][0] if i + 1 < len(inside) else ref[0]
        area += (next_x - x) * (ref[1] - best_y)
    return area
