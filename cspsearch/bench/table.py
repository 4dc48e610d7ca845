"""The benchmark's JSON as a markdown table (no torch here)."""

from __future__ import annotations

from typing import Any

ROWS = (
    ("study_speedup_vs_plain_optuna", "plain Optuna script's study time ÷ our default study's"),
    ("trial_speedup_vs_plain_optuna", "the same per trained trial (study time ÷ trials trained)"),
    (
        "study_speedup_same_architectures",
        "the plain script replaying our first study's trials ÷ that study: equal work, fp32",
    ),
    ("study_speedup_vs_plain_optuna_bf16", "the same two studies, both in bf16 (native only)"),
    ("trial_speedup_vs_plain_optuna_bf16", "per trained trial, both in bf16 (native only)"),
    (
        "study_speedup_ceiling",
        "cores × plain step ÷ step of one-thread workers at once: steps alone, fp32",
    ),
    ("overhead_harness_fraction", "per trial, sampling, build, MACs, storage ÷ wall (median)"),
    ("overhead_evaluation_fraction", "per trial, precise BN + validation + test ÷ wall"),
    ("overhead_fraction", "per trial, everything outside optimisation steps ÷ wall"),
    ("trial_wall_s_median", "our trained trial's wall time, s (median)"),
    ("speedup_vs_dataloader_fp32", "plain DataLoader loop ÷ our trainer, same archs, both fp32"),
    ("speedup_bf16_vs_fp32", "our trainer: fp32 time ÷ bf16 time (native bf16 only)"),
    ("gemm_fraction_fp32", "conv + linear training FLOP/s ÷ dense GEMM FLOP/s, fp32"),
    ("gemm_fraction_bf16", "the same in bf16 (native bf16 only)"),
    ("hv_ratio_tpe", "TPE hypervolume ÷ grid hypervolume (mean over seeds)"),
    ("hv_ratio_nsga2", "NSGA-II hypervolume ÷ grid hypervolume"),
    ("hv_ratio_random", "random search hypervolume ÷ grid hypervolume"),
    ("hv_ratio_trivial", "the cheapest architecture alone ÷ grid hypervolume"),
    ("trials_fraction", "trials per sampler run ÷ grid size"),
    ("tpe_startup_trials", "of which TPE draws at random before modelling"),
    (
        "epochs_fraction_early_stop",
        "epochs to the same hypervolume: with --early-stop ÷ without",
    ),
    ("gpu_utilisation", "mean GPU utilisation during the study (%)"),
    ("gpu_step_eager_ms", "the bench network's training step, eager, ms (GPU only)"),
    ("gpu_step_graphed_ms", "the same step as one CUDA graph, ms (GPU only)"),
    ("gpu_efm_trial_s", "a default csp_efm trial's wall time, s (GPU only)"),
    ("gpu_efm_evaluation_fraction", "its share outside optimisation steps (GPU only)"),
    ("gpu_study_trials_per_minute", "run --space csp_densenet, 30 trials: trials a minute"),
    ("gpu_study_utilisation", "mean GPU utilisation during that run (%)"),
    ("gpu_trials_per_device", "the trials per device that run used"),
)


def _show(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _runs(side: dict[str, Any]) -> str:
    """Each run's wall time, when a side ran more than once (bench/study.py says why)."""
    runs = side.get("runs_wall_s", [])
    return f" ({' + '.join(f'{w:.1f}' for w in runs)})" if len(runs) > 1 else ""


def _macs(mean: float | None) -> str:
    return "" if mean is None else f", mean {mean / 1e6:.2f} MMACs a trained trial"


def markdown(result: dict[str, Any]) -> str:
    """Header lines (date, device, command) and one row per figure, then the targets."""
    lines = [
        f"`{result['command']}` on {result['date']}, {result['device']}, torch "
        f"{result['torch']}, precision {result['precision']}, bf16 {result.get('bf16', '?')}",
        "",
        "| figure | value | what it is |",
        "|---|---|---|",
    ]
    lines += [f"| `{k}` | {_show(result[k])} | {what} |" for k, what in ROWS if k in result]
    for name in ("plain_optuna", "our_study", "plain_optuna_bf16", "our_study_bf16"):
        if name in result:
            r = result[name]
            extra = f", {r['workers']} worker(s)" if "workers" in r else ""
            lines.append(
                f"| {name.replace('_', ' ')} | {r['wall_s']:.1f} s{_runs(r)}, {r['trained']} of "
                f"{r['trials']} trials trained, {r['per_trained_trial_s']:.2f} s each{extra}"
                f"{_macs(r.get('mean_macs_trained'))} "
                f"| the study comparison's two sides{', bf16' if 'bf16' in name else ', fp32'} |"
            )
    same = result.get("same_architectures")
    if same:
        replay, ours = same["plain_replay"], same["ours"]
        lines.append(
            f"| plain replay of our first study | {replay['wall_s']:.1f} s against "
            f"{ours['wall_s']:.1f} s, {replay['trained']} and {ours['trained']} trials trained"
            f"{_macs(replay.get('mean_macs_trained'))} | the same architectures, fp32 |"
        )
    for name in ("tpe", "nsga2"):
        test = result.get(f"{name}_vs_random")
        if test:
            p = "n/a" if test["p_value"] is None else f"{test['p_value']:.3f}"
            lines.append(
                f"| {name} − random, paired over {test['seeds']} seeds | "
                f"{test['mean_diff']:+.3f}, p {p}: {test['verdict']} | hypervolume ratio |"
            )
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
