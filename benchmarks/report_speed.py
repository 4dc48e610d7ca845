"""How long the HTML report of a 200-trial study takes, and how large it is.

A 200-trial study is written to a temporary SQLite file with trials shaped like real ones
(params, values, user attributes, constraints) but without training; the report is then
built from that storage as `cspsearch report` does. Figures go to benchmarks/results/.

    python benchmarks/report_speed.py [--trials 200] [--out benchmarks/results/report_speed.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
import warnings
from pathlib import Path

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.distributions import IntDistribution

from cspsearch.report import collect
from cspsearch.report import write_report
from cspsearch.trials.study import open_storage

DISTRIBUTIONS = {
    "fusion": CategoricalDistribution(["none", "first", "last", "full"]),
    "split_ratio": CategoricalDistribution([0.25, 0.5, 0.75]),
    "depth_0": IntDistribution(1, 4),
    "depth_1": IntDistribution(1, 4),
    "depth_2": IntDistribution(1, 4),
    "growth_rate": CategoricalDistribution([8, 12, 16]),
    "stem_width": CategoricalDistribution([16, 24, 32]),
}


def synthetic_trial(rng: random.Random) -> optuna.trial.FrozenTrial:
    params = {
        k: rng.choice(d.choices)
        if isinstance(d, CategoricalDistribution)
        else rng.randint(d.low, d.high)
        for k, d in DISTRIBUTIONS.items()
    }
    dists = dict(DISTRIBUTIONS)
    if params["fusion"] == "none":
        del params["split_ratio"], dists["split_ratio"]
    macs = int(1e6 * (1 + sum(params[f"depth_{i}"] for i in range(3)) * params["growth_rate"] / 8))
    acc = min(0.999, 0.7 + 0.02 * sum(params[f"depth_{i}"] for i in range(3)) + rng.gauss(0, 0.02))
    curve = [acc * (1 - 0.5 ** (e + 1)) for e in range(4)]
    attrs = {
        "trained": True,
        "val_accuracy": acc,
        "test_accuracy": acc,
        "macs": macs,
        "flops": 2 * macs,
        "params": macs // 50,
        "trial_time_s": 4.0,
        "config": {"model": {"fusion": [params["fusion"]] * 3}, "train": {"epochs": 4}},
        "val_accuracy_curve": curve,
        "macs_by_stage": {"stem": 1, "stages.0": macs - 1},
        "versions": {"python": platform.python_version()},
        "device": "cpu",
    }
    return optuna.trial.create_trial(
        params=params,
        distributions=dists,
        values=[acc, macs],
        user_attrs=attrs,
        system_attrs={"constraints:macs": -1.0},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--out", default="benchmarks/results/report_speed.json")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    with tempfile.TemporaryDirectory() as tmp:
        storage = open_storage(f"sqlite:///{tmp}/bench.db")
        study = optuna.create_study(
            storage=storage, study_name="bench", directions=["maximize", "minimize"]
        )
        study.set_metric_names(["val_accuracy", "macs"])
        rng = random.Random(0)
        study.add_trials([synthetic_trial(rng) for _ in range(args.trials)])
        start = time.perf_counter()
        data = collect(storage, "bench")
        collected = time.perf_counter()
        path = write_report(data, Path(tmp) / "bench.html")
        done = time.perf_counter()
        result = {
            "trials": args.trials,
            "collect_s": round(collected - start, 3),
            "render_and_write_s": round(done - collected, 3),
            "total_s": round(done - start, 3),
            "html_mb": round(path.stat().st_size / 2**20, 2),
            "python": platform.python_version(),
            "optuna": optuna.__version__,
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
