"""``--seeds auto`` against fixed ``--max-seeds`` seeds, on simulated per-seed results at the
seed-to-seed noise of real digits trials.

The noise: the standard deviation of the per-seed paired differences (variant − reference, in
points) within each row of a recorded ablation study (``--storage``/``--study``: a fixed-seed
``cspsearch ablate`` study), pooled over its per-base rows; the rows' own mean differences
are the true effects of the simulated tables (or ``--noise-sd`` and a built-in mix of effects
when no study is given). Each simulated table draws every row's ``max_seeds`` differences
from N(effect, sd); the fixed rule decides them all with ``decide_table`` (one family), the
sequential rule replays its looks on the same numbers (as a run would stop on them). Figures:
the share of rows where both reach the same verdict, and the trials auto trains as a fraction
of the fixed table's (each row's seeds, plus the reference's: its base's most-seeded row).

    python benchmarks/seeds_auto.py --storage sqlite:///reports/cspsearch.db \\
        --study csp_densenet-ablation                        # noise from a recorded study
    python benchmarks/seeds_auto.py --noise-sd 2.0            # or a given noise
    python benchmarks/seeds_auto.py --recorded benchmarks/results/seeds_auto.json \\
        --out benchmarks/results/seeds_auto_rule2.json        # or an earlier run's noise
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from cspsearch.sequential import sequential_table
from cspsearch.stats import DEFAULT_MARGIN
from cspsearch.stats import decide_table

OUT = Path(__file__).parent / "results" / "seeds_auto.json"
MIX = [0.0, 0.0, 0.3, -0.5, 1.0, -1.5, -2.5, 3.0, -5.0]  # points, when no study is given


def recorded(storage: str, study: str) -> tuple[float, list[list[float]], int]:
    """(pooled within-row sd, each per-base table's row mean differences, rows) of a recorded
    ablation (the pooled table is not simulated: its rows are the per-base rows again)."""
    from cspsearch.ablate.read import read_ablation

    data = read_ablation(storage, study)
    tables = [
        [v for v in t.rows if v.change is not None and len(v.diffs) > 1] for t in data.tables
    ]
    rows = [v for t in tables for v in t]
    if not rows:
        raise SystemExit(f"{study}: no row with two paired seeds or more")
    var = statistics.fmean(statistics.variance(v.diffs) for v in rows)
    effects = [[statistics.fmean(v.diffs) for v in t] for t in tables if t]
    return var**0.5, effects, len(rows)


def simulate(
    tables: list[list[float]], sd: float, repeats: int, min_seeds: int, max_seeds: int,
    margin: float, seed: int,
) -> dict:  # fmt: skip
    """Each of ``tables`` (its rows' true effects, one family) drawn ``repeats`` times."""
    rng = np.random.default_rng(seed)
    same = rows = auto_trials = fixed_trials = 0
    by_verdict: dict[str, list[int]] = {}
    for effects in [t for _ in range(repeats) for t in tables]:
        diffs = [list(rng.normal(e, sd, max_seeds)) for e in effects]
        fixed = [d.verdict for d in decide_table(diffs, margin)]
        auto = sequential_table(diffs, min_seeds=min_seeds, max_seeds=max_seeds, margin=margin)
        for f, a in zip(fixed, auto):
            same += f == a.decision.verdict
            counts = by_verdict.setdefault(f, [0, 0])
            counts[0] += 1
            counts[1] += f == a.decision.verdict
        rows += len(effects)
        auto_trials += sum(a.seeds for a in auto) + max(a.seeds for a in auto)
        fixed_trials += (len(effects) + 1) * max_seeds
    return {
        "same_verdict_share": same / rows,
        "trials_fraction": auto_trials / fixed_trials,
        "rows": rows,
        "same_by_fixed_verdict": {k: v[1] / v[0] for k, v in sorted(by_verdict.items())},
        "rows_by_fixed_verdict": {k: v[0] for k, v in sorted(by_verdict.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--storage")
    parser.add_argument("--study")
    parser.add_argument("--recorded", type=Path, help="an earlier result: its noise and effects")
    parser.add_argument("--noise-sd", type=float, default=2.0, help="points (without a study)")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    parser.add_argument("--min-seeds", type=int, default=3)
    parser.add_argument("--max-seeds", type=int, default=10)
    parser.add_argument("--tables", type=int, default=400, help="simulated copies of each table")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.study:
        sd, effects, n = recorded(args.storage, args.study)
        source = f"{args.study}: {n} rows, pooled within-row sd of per-seed differences"
    elif args.recorded:
        earlier = json.loads(args.recorded.read_text(encoding="utf-8"))
        sd, effects = earlier["noise_sd_pp"], earlier["effects_pp"]
        source = f"{args.recorded}: {earlier['noise_source']}"
    else:
        sd, effects, source = args.noise_sd, [MIX], "given --noise-sd, built-in mix of effects"
    result = simulate(
        effects, sd, args.tables, args.min_seeds, args.max_seeds, args.margin, seed=0
    )
    figures = {
        "noise_sd_pp": sd,
        "noise_source": source,
        "effects_pp": effects,
        "margin_pp": args.margin,
        "min_seeds": args.min_seeds,
        "max_seeds": args.max_seeds,
        "tables": args.tables * len(effects),
        **result,
        "targets": {"same_verdict_share": ">= 0.90", "trials_fraction": "<= 0.50"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(
        f"noise sd {sd:.2f} pp ({source}); margin ±{args.margin:g} pp; "
        f"seeds auto {args.min_seeds}-{args.max_seeds} vs fixed {args.max_seeds}: same verdict "
        f"in {100 * result['same_verdict_share']:.1f}% of {result['rows']} rows with "
        f"{100 * result['trials_fraction']:.1f}% of the trials → {args.out}"
    )


if __name__ == "__main__":
    main()
