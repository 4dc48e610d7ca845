"""The benchmark's JSON as a markdown table (no torch here)."""

from __future__ import annotations

from typing import Any

ROWS = (
    ("overhead_fraction", "per trial, share of wall time outside optimisation steps (median)"),
    ("overhead_evaluation_fraction", "… of which precise BN + validation + test"),
    ("overhead_harness_fraction", "… of which sampling, build, MACs, latency, storage"),
    ("gemm_fraction", "training FLOP/s ÷ dense GEMM FLOP/s, precision used"),
    ("gemm_fraction_fp32", "the same in fp32"),
    ("gemm_fraction_bf16", "the same in bf16"),
    ("speedup_vs_dataloader", "plain DataLoader loop (fp32) time ÷ ours (precision used)"),
    ("speedup_ours_fp32_vs_dataloader", "plain DataLoader loop ÷ ours, both fp32"),
    ("speedup_bf16_vs_fp32", "our trainer: fp32 time ÷ bf16 time"),
    ("hv_ratio_tpe", "TPE hypervolume ÷ grid hypervolume"),
    ("hv_ratio_nsga2", "NSGA-II hypervolume ÷ grid hypervolume"),
    ("hv_ratio_random", "random search hypervolume ÷ grid hypervolume"),
    ("trials_fraction", "trials per sampler run ÷ grid size"),
    (
        "epochs_fraction_early_stop",
        "epochs with --early-stop to reach TPE's hypervolume ÷ without",
    ),
    ("gpu_utilisation", "mean GPU utilisation during the study (%)"),
)


def _show(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def markdown(result: dict[str, Any]) -> str:
    """Header lines (date, device, command) and one row per figure, then the targets."""
    lines = [
        f"`{result['command']}` on {result['date']}, {result['device']}, torch "
        f"{result['torch']}, precision {result['precision']}",
        "",
        "| figure | value | what it is |",
        "|---|---|---|",
    ]
    lines += [f"| `{k}` | {_show(result[k])} | {what} |" for k, what in ROWS if k in result]
    agree = result.get("precision_agreement", {})
    if agree:
        lines.append(
            f"| bf16 vs fp32 accuracy | mean Δ {agree['mean_val_accuracy_diff']:+.4f}, max "
            f"|Δ| {agree['max_abs_val_accuracy_diff']:.4f}, Pareto membership agrees "
            f"{agree['pareto_membership_agrees']} | same architectures, same seeds |"
        )
    lines += ["", "| target | outcome |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in result.get("targets", {}).items()]
    return "\n".join(lines) + "\n"
