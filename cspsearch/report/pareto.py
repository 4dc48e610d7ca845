"""Pareto sets and hypervolume over trial rows (plain numbers).

Hypervolume is computed for two objectives, each turned into "smaller is better" (a maximised
score s becomes −s). The reference point is stated in the report: 0 for a maximised score such
as accuracy (the worst possible), and for a minimised cost the space's budget when there is
one, else 1.1 × the largest value seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # collect.py uses pareto_mask; the report data type is only annotated here
    from cspsearch.report.collect import ReportData


def pareto_mask(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[bool]:
    """True for each point no other point dominates (≥ as good everywhere, better somewhere)."""
    signed = [[v if d == "minimize" else -v for v, d in zip(p, directions)] for p in points]

    def dominates(a: list[float], b: list[float]) -> bool:
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    return [not any(dominates(o, p) for o in signed) for p in signed]


def reference_point(data: ReportData) -> list[float]:
    """The hypervolume reference point, in the objectives' own units and order."""
    ref = []
    for name, direction in data.objectives.items():
        seen = [r.values[name] for r in data.rows if r.evaluated]
        if direction == "maximize":
            ref.append(min([0.0, *seen]))
        else:
            ref.append(data.budget.get(name) or 1.1 * max(seen, default=1.0))
    return ref


def hypervolume_2d(points: Sequence[Sequence[float]], ref: Sequence[float]) -> float:
    """Area dominated by ``points`` (both objectives minimised) and bounded by ``ref``."""
    inside = sorted((x, y) for x, y in points if x < ref[0] and y < ref[1])
    area, best_y = 0.0, ref[1]
    for i, (x, y) in enumerate(inside):
        best_y = min(best_y, y)
        next_x = inside[i + 1][0] if i + 1 < len(inside) else ref[0]
        area += (next_x - x) * (ref[1] - best_y)
    return area


def hypervolume_history(data: ReportData) -> tuple[list[int], list[float], list[float]]:
    """(trial numbers, hypervolume after each, reference point); empty unless 2 objectives."""
    if len(data.objectives) != 2:
        return [], [], []
    ref = reference_point(data)
    flip = [1 if d == "minimize" else -1 for d in data.objectives.values()]
    ref_min = [f * v for f, v in zip(flip, ref)]
    numbers, volumes, points = [], [], []
    for r in sorted(data.rows, key=lambda r: r.number):
        if r.evaluated:
            points.append([f * r.values[n] for f, n in zip(flip, data.objectives)])
        if r.state in ("complete", "failed"):
            numbers.append(r.number)
            volumes.append(hypervolume_2d(points, ref_min))
    return numbers, volumes, ref
