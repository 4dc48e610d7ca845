"""What keeping a trial's final weights (``--keep-weights``, the default) costs: the artifact
upload of a trained trial with and without ``weights.pt``, side by side in one process,
A B A B, on a real SQLite study and a folder artifact store.

The network is the csp_densenet space's largest (stem 32, growth 16, depth 4 per stage, full
fusion, γ 0.25): the most a default study saves. Writes each upload's time, the medians and
their difference (ms per trial) to a JSON file; set it against a trial's time (seconds).

    python benchmarks/weights_cost.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import optuna
import torch

from cspsearch.models.registry import build_model
from cspsearch.space.configs import ModelConfig
from cspsearch.trials.artifacts import artifact_store
from cspsearch.trials.artifacts import upload_trial_artifacts

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/weights_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = ModelConfig(stem_width=32, growth_rate=16, depth=4, fusion="full", split_ratio=0.25)
    model = build_model(cfg)
    attrs = {"config": {"model": {"family": cfg.family}}, "macs": 1, "params": 1}
    times: dict[str, list[float]] = {"without": [], "with": []}
    with tempfile.TemporaryDirectory() as tmp:
        study = optuna.create_study(storage=f"sqlite:///{tmp}/s.db")
        store = artifact_store(Path(tmp) / "artifacts")
        for _ in range(args.repeats):  # A B A B: the machine's drift falls on both
            for name, weights in (("without", None), ("with", model)):
                trial = study.ask()
                began = time.perf_counter()
                upload_trial_artifacts(trial, attrs, store, weights)
                times[name].append(time.perf_counter() - began)
        size = max(p.stat().st_size for p in (Path(tmp) / "artifacts").iterdir())
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    result = {
        "what": "artifact upload of one trained trial, with and without weights.pt",
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} logical cores, one thread",
        "params": sum(p.numel() for p in model.parameters()),
        "largest_artifact_bytes": size,
        "median_ms": med,
        "weights_cost_ms": med["with"] - med["without"],
        "times_s": times,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "times_s"}))
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
