"""`cspsearch run --space csp_densenet`, this tree against an old commit, whole processes side by
side (issue 26's CPU target "csp_densenet is no slower").

Each run is a fresh process on a fresh SQLite study: `python -m cspsearch run --space
csp_densenet --n-trials 2 --n-workers 1 --seed 0`, with PYTHONPATH at this tree (new) or at a
git worktree of the old commit (old, default 9b54720), alternating new old new old …, one
warm-up pair not counted. Wall seconds from a monotonic clock, CPU seconds (user + system) from
the finished child's own accounting; the ratio new/old is taken pair by pair, so a machine that
drifts during the call moves both. Also checks that both give the same trial values.

    python benchmarks/densenet_no_slower.py [--pairs 8] [--out FILE]

(default FILE: benchmarks/results/densenet_no_slower.json)
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from efm_trial_speed import old_tree  # noqa: E402  (the same worktree helper)

VALUES = """
import json, sys, optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="csp_densenet-seed0", storage=sys.argv[1])
print(json.dumps([t.values for t in study.trials]))
"""


def run_once(tree: Path, work: Path) -> tuple[float, float, list]:
    """Wall and CPU seconds of one whole run in ``tree``, and its trials' values."""
    db = work / f"{tree.name}-{time.monotonic_ns()}.db"
    cmd = [sys.executable, "-m", "cspsearch", "run", "--space", "csp_densenet", "--n-trials",
           "2", "--n-workers", "1", "--seed", "0", "--storage", f"sqlite:///{db}"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(cmd, env=env, cwd=work, check=True, capture_output=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = subprocess.run([sys.executable, "-c", VALUES, f"sqlite:///{db}"], env=env,
                         check=True, capture_output=True, text=True)  # fmt: skip
    return wall, cpu, json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--old-commit", default="9b54720")
    parser.add_argument("--old-tree", type=Path, default=Path("/tmp/old"))
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/densenet_no_slower.json"
    )
    args = parser.parse_args()
    old = old_tree(args.old_tree, args.old_commit)
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run_once(ROOT, work), run_once(old, work)  # warm-up: the file cache, not counted
        for _ in range(args.pairs):
            new_wall, new_cpu, new_values = run_once(ROOT, work)
            old_wall, old_cpu, old_values = run_once(old, work)
            same = new_values == old_values
            pairs.append({"new_wall_s": new_wall, "old_wall_s": old_wall, "new_cpu_s": new_cpu,
                          "old_cpu_s": old_cpu, "same_values": same})  # fmt: skip
            print(json.dumps(pairs[-1]), flush=True)
    ratio = {k: [p[f"new_{k}_s"] / p[f"old_{k}_s"] for p in pairs] for k in ("wall", "cpu")}
    result = {
        "what": "cspsearch run --space csp_densenet --n-trials 2, whole process, new/old by pair",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} logical cores; "
        + Path("/proc/cpuinfo").read_text().split("model name")[1].split("\n")[0].strip(": \t"),
        "old_commit": args.old_commit,
        "pairs": pairs,
        "ratio_median": {k: statistics.median(v) for k, v in ratio.items()},
        "ratio_min_max": {k: [min(v), max(v)] for k, v in ratio.items()},
        "same_values_every_pair": all(p["same_values"] for p in pairs),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "pairs"}, indent=1))


if __name__ == "__main__":
    main()
