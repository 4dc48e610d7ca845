"""The CSPNet paper's PeleeNet ablation (§4.1, Table 1, Figure 4) in compute: every CSP variant
of the ``peleenet`` preset against the plain network, beside the paper's figures.

The paper's "BFLOPs" are 2 × convolution MACs, so the comparison uses fvcore's ``conv`` entry
(``macs_by_operator``); the total (BatchNorm, classifier and pooling included) is shown too.
NOTE: each variant is CSPPeleeNet's stage plan (CSP on stages 2-4, stage 1 plain) with its
fusion and γ changed; the paper does not say which stages its variants split, this is the
plan that reproduces its five rows (csp_stage.py explains the transition placement).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace

from cspsearch.measure.macs import count_macs
from cspsearch.models.presets import PRESETS
from cspsearch.models.registry import build_model
from cspsearch.space.configs import ModelConfig
from cspsearch.space.paper import PAPER_PELEENET  # the paper's numbers (torch-free)


@dataclass(frozen=True)
class PaperComputeRow:
    """One variant; ``change`` is its conv MACs against PeleeNet's, in percent."""

    fusion: str  # "none" for the PeleeNet baseline row
    split_ratio: float | None  # γ; None for the baseline
    conv_macs: int  # fvcore's convolution MACs (the paper's BFLOPs / 2)
    macs: int  # fvcore's total MACs
    params: int  # PyTorch's count, BatchNorm included
    params_no_bn: int  # the paper's convention
    change: float
    paper: float | None
    gap: float | None  # change − paper, in percentage points


def variant(base: ModelConfig, fusion: str, split_ratio: float) -> ModelConfig:
    """``base`` with CSPPeleeNet's CSP stages (2-4) set to ``fusion`` and ``split_ratio``."""
    csp = PRESETS["csppeleenet"][0].fusion
    fusions = tuple("none" if f == "none" else fusion for f in csp)
    return replace(base, fusion=fusions, split_ratio=split_ratio)


def paper_compute_rows() -> list[PaperComputeRow]:
    """The baseline row, then one row per variant of PAPER_PELEENET (at 224×224, 1000 classes)."""
    base, size = PRESETS["peleenet"]
    reference = 0
    rows = []
    for fusion, ratio, paper, _ in [("none", None, None, None), *PAPER_PELEENET]:
        cfg = base if ratio is None else variant(base, fusion, ratio)
        report = count_macs(build_model(cfg), size, cfg.in_chans)
        conv = report.by_operator.get("conv", 0)
        reference = reference or conv
        change = round(100 * (conv / reference - 1), 1)
        gap = None if paper is None else round(change - paper, 1)
        rows.append(
            PaperComputeRow(
                fusion,
                ratio,
                conv,
                report.macs,
                report.params,
                report.params_no_bn,
                change,
                paper,
                gap,
            )
        )
    return rows


def format_rows(rows: list[PaperComputeRow]) -> str:
    """The rows as a text table; MACs in millions."""
    lines = [
        "PeleeNet ablation at 224×224, 1000 classes; conv MMACs = fvcore's convolution MACs "
        "(the paper's BFLOPs = 2 × conv MACs); change = conv MACs against PeleeNet",
        f"{'fusion':<7} {'γ':>5} {'conv MMACs':>10} {'BFLOPs':>7} {'MMACs':>7} "
        f"{'params':>10} {'no BN':>10} {'change':>7} {'paper':>7} {'gap (pp)':>8}",
    ]
    for r in rows:
        ratio = "–" if r.split_ratio is None else f"{r.split_ratio:g}"
        paper = "–" if r.paper is None else f"{r.paper:+.1f}%"
        gap = "–" if r.gap is None else f"{r.gap:+.1f}"
        lines.append(
            f"{r.fusion:<7} {ratio:>5} {r.conv_macs / 1e6:>10.1f} {2 * r.conv_macs / 1e9:>7.3f} "
            f"{r.macs / 1e6:>7.1f} {r.params:>10,} {r.params_no_bn:>10,} {r.change:>+6.1f}% "
            f"{paper:>7} {gap:>8}"
        )
    return "\n".join(lines)
