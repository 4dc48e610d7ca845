"""The CSPNet paper's PeleeNet ablation (§4.1, Table 1, Figure 4) as plain numbers, torch-free:
the paper's compute table (cspsearch/measure/paper_compute.py) and the ablation tables
(cspsearch/ablate/tables.py) both read this one table.

Each row: fusion, γ, compute change against PeleeNet in percent, top-1 change in points
(ImageNet). Full γ 0.5 is CSPPeleeNet (reference README: 0.888 vs 1.017 BFLOPs, top-1 70.7 →
70.9); Figure 4 gives last 0.804 and first 0.755 BFLOPs (read to ±0.002); the γ 0.25 rows are
from the text.
"""

from __future__ import annotations

PAPER_PELEENET: list[tuple[str, float, float, float]] = [
    ("full", 0.5, -13.0, +0.2),
    ("last", 0.5, -21.0, -0.1),
    ("first", 0.5, -26.0, -1.5),
    ("last", 0.25, -11.0, +0.1),
    ("full", 0.25, -3.0, +0.8),
]


def paper_row(fusion: str, split_ratio: float | None) -> tuple[float, float] | None:
    """(compute change %, top-1 change in points) of the paper's variant, if it has one."""
    for f, ratio, compute, top1 in PAPER_PELEENET:
        if f == fusion and split_ratio is not None and abs(ratio - split_ratio) < 1e-9:
            return compute, top1
    return None
