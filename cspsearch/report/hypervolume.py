"""The hypervolume of a study's trial rows, trial by trial (dominance itself: cspsearch/pareto.py).

Hypervolume is computed for two objectives, each turned into "smaller is better" (a maximised
score s becomes −s). The reference point is stated in the report: 0 for a maximised score such
as accuracy (the worst possible), and for a minimised cost the space's budget when there is
one, else 1.1 × the largest value seen.
"""

from __future__ import annotations

from cspsearch.pareto import hypervolume_2d
from cspsearch.report.collect import ReportData


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
