"""The hypervolume of a study's trial rows, trial by trial (dominance itself: cspsearch/pareto.py).

Hypervolume is computed for two objectives, each turned into "smaller is better" (a maximised
score s becomes −s), over the trials in statistics (trained to the end; early-stopped ones are
left out). The reference point is stated in the report: 0 for a maximised score such as
accuracy (the worst possible), and for a minimised cost the space's budget when there is one,
else 1.1 × the largest value seen. Studies overlaid in one figure share one reference point
(the worst of theirs), so their curves are comparable.
"""

from __future__ import annotations

from collections.abc import Sequence

from cspsearch.pareto import hypervolume_2d
from cspsearch.report.collect import ReportData


def reference_point(data: ReportData | Sequence[ReportData]) -> list[float]:
    """The hypervolume reference point, in the objectives' own units and order; for several
    studies (with the first one's objectives) the one point that bounds all of them."""
    datasets = [data] if isinstance(data, ReportData) else list(data)
    first = datasets[0]
    ref = []
    for name, direction in first.objectives.items():
        if direction == "maximize":
            ref.append(min([0.0, *(v for d in datasets for v in _seen(d, name))]))
        else:
            limits = [
                d.budget.get(name) or 1.1 * max(_seen(d, name), default=1.0) for d in datasets
            ]
            ref.append(max(limits))
    return ref


def same_objectives(datasets: Sequence[ReportData]) -> bool:
    """Whether every study has the first one's objectives and directions (one reference fits)."""
    return all(d.objectives == datasets[0].objectives for d in datasets)


def hypervolume_history(
    data: ReportData, ref: Sequence[float] | None = None
) -> tuple[list[int], list[float], list[float]]:
    """(trial numbers, hypervolume after each, reference point); empty unless 2 objectives.
    ``ref``: the reference point to use (default: this study's own)."""
    if len(data.objectives) != 2:
        return [], [], []
    ref = list(ref) if ref is not None else reference_point(data)
    flip = [1 if d == "minimize" else -1 for d in data.objectives.values()]
    ref_min = [f * v for f, v in zip(flip, ref)]
    numbers, volumes, points = [], [], []
    for r in sorted(data.rows, key=lambda r: r.number):
        if r.in_statistics:
            points.append([f * r.values[n] for f, n in zip(flip, data.objectives)])
        if r.state in ("complete", "failed"):
            numbers.append(r.number)
            volumes.append(hypervolume_2d(points, ref_min))
    return numbers, volumes, ref


def _seen(data: ReportData, name: str) -> list[float]:
    return [r.values[name] for r in data.rows if r.in_statistics]
