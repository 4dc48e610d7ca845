"""The verdict rule on this project's own noise: the two candidate tests side by side, and the
familywise error of whole tables (fixed seeds and ``--seeds auto``).

The noise and the true effects are those of a recorded ablation (``--recorded``: a
benchmarks/seeds_auto.py result, whose ``noise_sd_pp`` is the pooled within-row sd of the
per-seed differences and ``effects_pp`` each per-base table's row means). Every simulated
difference is rounded to whole validation images (stats.RESOLUTION), as real accuracies are.

1. Candidates (docs/verdicts.md): the paired t-test with the sd floored at step/√6 (the rule of
   cspsearch/stats.py) against the exact sign-flip permutation test of the mean (all 2ⁿ flips;
   H₀ Δ = 0, Δ ≤ −m, Δ ≥ +m), both with the table's rows one Bonferroni family, on each
   recorded table drawn ``--tables`` times at 3 and at 10 seeds: the share of rows each
   decides, and the share of tables with a false claim (every row's effect set to 0, +m, −m).
2. Familywise error of the real rule over ≥ 2,000 tables of 9 and 27 rows, under the null and
   with every row at ±margin, fixed 3 and 10 seeds and ``--seeds auto`` (sequential.replay).

    python benchmarks/verdicts.py          # → benchmarks/results/verdicts.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from cspsearch.sequential import replay
from cspsearch.stats import ALPHA
from cspsearch.stats import DEFAULT_MARGIN
from cspsearch.stats import RESOLUTION
from cspsearch.stats import bounds
from cspsearch.stats import claims
from cspsearch.stats import sd_floor

HERE = Path(__file__).parent / "results"
FALSE = {  # the claims that are false when every row's true Δ is the key (× margin)
    0.0: ("better", "worse"),
    1.0: ("equivalent", "worse"),
    -1.0: ("equivalent", "non-inferior", "better"),
}


def draw(rng: np.random.Generator, effects: np.ndarray, sd: float, tables: int, seeds: int):
    """(tables, rows, seeds) differences in whole images around each row's effect."""
    d = rng.normal(effects[None, :, None], sd, (tables, len(effects), seeds))
    return RESOLUTION * np.round(d / RESOLUTION)


def t_rule(d: np.ndarray, margin: float) -> np.ndarray:
    """The project's rule on a stack of fixed tables."""
    n, rows = d.shape[2], d.shape[1]
    mean, sd = d.mean(axis=2), d.std(axis=2, ddof=1)
    _, wide, narrow = bounds(mean, sd, np.full(mean.shape, n), ALPHA / rows,
                             sd_floor(RESOLUTION))  # fmt: skip
    return claims(mean, wide, narrow, margin)


def permutation_rule(d: np.ndarray, margin: float) -> np.ndarray:
    """Exact sign-flip permutation tests (all 2ⁿ flips), Bonferroni over the rows, read in
    the same order as stats.claims."""
    n, rows = d.shape[2], d.shape[1]
    flips = np.array(list(itertools.product((1.0, -1.0), repeat=n)))  # (2ⁿ, n)

    def p_greater(x: np.ndarray) -> np.ndarray:  # H0: mean ≤ 0 (symmetric about 0)
        sums = x @ flips.T
        return (sums >= x.sum(axis=2, keepdims=True) - 1e-9).mean(axis=2)

    a = ALPHA / rows
    p_up, p_down = p_greater(d), p_greater(-d)
    p_diff = np.minimum(1.0, 2 * np.minimum(p_up, p_down))
    p_lo, p_hi = p_greater(d + margin), p_greater(margin - d)
    out = np.full(d.shape[:2], "undecided", dtype=object)
    out[p_lo < a] = "non-inferior"
    out[(p_diff < a) & (d.mean(axis=2) > 0)] = "better"
    out[(p_diff < a) & (d.mean(axis=2) < 0)] = "worse"
    out[np.maximum(p_lo, p_hi) < a] = "equivalent"
    return out


def candidates(recorded: dict, tables: int, margin: float, rng: np.random.Generator) -> dict:
    sd = recorded["noise_sd_pp"]
    out: dict = {}
    for seeds in (3, 10):
        for name, rule in (("t_floor", t_rule), ("permutation", permutation_rule)):
            decided, false = [], {}
            for effects in recorded["effects_pp"]:
                said = rule(draw(rng, np.array(effects), sd, tables, seeds), margin)
                decided.append(float((said != "undecided").mean()))
            for key, wrong in FALSE.items():
                same = np.full(9, key * margin)
                said = rule(draw(rng, same, sd, tables, seeds), margin)
                false[f"{key:+g}m"] = float(np.isin(said, wrong).any(axis=1).mean())
            out[f"{name}_{seeds}_seeds"] = {
                "rows_decided_share": float(np.mean(decided)),
                "tables_with_a_false_claim_9_rows": false,
            }
    return out


def family(sd: float, tables: int, margin: float, rng: np.random.Generator) -> dict:
    out: dict = {}
    for rows, key in itertools.product((9, 27), FALSE):
        effects = np.full(rows, key * margin)
        rates = {}
        for seeds in (3, 10):
            said = t_rule(draw(rng, effects, sd, tables, seeds), margin)
            rates[f"fixed_{seeds}"] = float(np.isin(said, FALSE[key]).any(axis=1).mean())
        said, _ = replay(draw(rng, effects, sd, tables, 10), min_seeds=3, max_seeds=10,
                         margin=margin)  # fmt: skip
        rates["auto_3_10"] = float(np.isin(said, FALSE[key]).any(axis=1).mean())
        out[f"{rows}_rows_at_{key:+g}m"] = rates
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recorded", type=Path, default=HERE / "seeds_auto.json")
    parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    parser.add_argument("--tables", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=HERE / "verdicts.json")
    args = parser.parse_args()
    recorded = json.loads(args.recorded.read_text(encoding="utf-8"))
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    figures = {
        "recorded": str(args.recorded),
        "noise_sd_pp": recorded["noise_sd_pp"],
        "step_pp": RESOLUTION,
        "margin_pp": args.margin,
        "alpha": ALPHA,
        "tables_per_case": args.tables,
        "candidates": candidates(recorded, args.tables, args.margin, rng),
        "familywise_error": family(recorded["noise_sd_pp"], args.tables, args.margin, rng),
    }
    figures["seconds"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
