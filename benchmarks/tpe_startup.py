"""How many random start-up trials TPE should draw in a short study.

Trains the bench's quick grid once (every architecture, as `cspsearch bench --quick` does),
then replays TPE with several start-up counts and random search against that table over many
seeds: the hypervolume each reaches in 40% of the grid's size, as a fraction of the grid's, and
each TPE setting against random search with the same seeds (paired). cspsearch's TPE uses
`tpe_startup_trials` (cspsearch/trials/samplers.py); this is the measurement behind it.

    python benchmarks/tpe_startup.py [--seeds 60] [--out benchmarks/results/tpe_startup.json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time
from pathlib import Path
from unittest import mock

import optuna

from cspsearch.bench import QUICK
from cspsearch.bench import describe_device
from cspsearch.bench import grid_space
from cspsearch.bench import search
from cspsearch.space.searchspace import SearchSpace
from cspsearch.stats import paired
from cspsearch.trials import samplers

STARTUPS = (10, 5, 3)


def replay(
    space: SearchSpace, table: search.Table, sampler: str, n_trials: int, seeds: int, startup: int
) -> list[float]:
    """Hypervolume ratios over ``seeds`` replays, TPE's start-up fixed to ``startup``."""
    whole = search.grid_hypervolume(table)
    ratios = []
    with mock.patch.object(samplers, "tpe_startup_trials", lambda n: startup):
        for seed in range(seeds):
            state = search.Replay(space, table, sampler, seed, n_trials)
            state.run(n_trials)
            ratios.append(state.hypervolume() / whole)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/tpe_startup.json"))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    started = time.perf_counter()
    space = grid_space(QUICK)
    table = search.evaluate_grid(space, "cpu")
    n_trials = max(1, int(0.4 * len(table)))
    random_ratios = replay(space, table, "random", n_trials, args.seeds, 10)
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": describe_device("cpu"),
        "grid_size": len(table),
        "trials": n_trials,
        "seeds": args.seeds,
        "random": statistics.fmean(random_ratios),
    }
    for startup in STARTUPS:
        ratios = replay(space, table, "tpe", n_trials, args.seeds, startup)
        test = paired(random_ratios, ratios)
        result[f"tpe_startup_{startup}"] = {
            "hv_ratio": statistics.fmean(ratios),
            "vs_random": test.diff.mean,
            "interval": [test.diff.low, test.diff.high],
            "p_value": test.p_value,
            "verdict": test.verdict,
        }
        p = "n/a" if test.p_value is None else f"{test.p_value:.3f}"  # None: no spread, n < 2
        print(f"TPE, {startup} start-up trials: {test.diff.mean:+.3f} vs random, "
              f"p {p}: {test.verdict}")  # fmt: skip
    result["wall_s"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(args.out)


if __name__ == "__main__":
    main()
