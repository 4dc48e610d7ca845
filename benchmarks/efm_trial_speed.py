"""A default csp_efm detection trial, old code against new, side by side on the CPU.

Runs the first trial of `cspsearch run --space csp_efm` (the same architecture in both: the
sampler is seeded with the training seed) once with the project at an old commit (a git
worktree, default 9b54720: pycocotools after every epoch, the loss with host syncs) and once
with this tree (AP on the device per epoch, the static loss), alternating A B then B A, one thread
each, one process at a time. Each round uses its own training seed, so the AP50 pairs also show
seed noise. Writes the train times, their ratios and both AP50s to a JSON file.

``--together`` runs old and new at the same time instead, each pinned to its own core (the
cores swapped every round), as a default 2-core study runs two single-threaded workers at once:
a drift in the host's speed then meets both sides alike (one after the other, the same old
trial took 70 s in one run and 101 s in the next). When one side ends first, a filler copy of
it keeps its core busy until the other ends, so the slower side never runs alone.

    python benchmarks/efm_trial_speed.py [--epochs 24] [--rounds 2] [--old-tree /tmp/old]
    python benchmarks/efm_trial_speed.py --together --rounds 4
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run inside each tree: the first csp_efm trial, then its recorded figures as one JSON line.
DRIVER = """
import json, sys, torch
torch.set_num_threads(1)
import cspsearch
from cspsearch.space.loader import load_space, override_train
epochs, seed, db, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
assert cspsearch.__file__.startswith(root), (cspsearch.__file__, root)
space = override_train(load_space(root + "/search_spaces/csp_efm.yaml"), epochs=epochs, seed=seed)
options = cspsearch.RunOptions(device="cpu", artifacts=db + ".artifacts")
study = cspsearch.search(space, n_trials=1, storage="sqlite:///" + db, options=options)
a = study.trials[0].user_attrs
keys = ("val_ap50", "test_ap50", "train_time_s", "step_time_s", "trial_time_s", "config_key")
print(json.dumps({k: a.get(k) for k in keys}))
"""


def start(
    tree: Path, epochs: int, seed: int, work: Path, tag: str, cpu: int | None = None
) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1"}
    env["CSPSEARCH_CACHE"] = str(work / "cache")  # the shapes are generated once, shared
    db = work / f"{tag}-{seed}.db"
    pin = [] if cpu is None else ["taskset", "-c", str(cpu)]
    return subprocess.Popen(
        [*pin, sys.executable, "-c", DRIVER, str(epochs), str(seed), str(db), str(tree)],
        env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def result(process: subprocess.Popen, tag: str) -> dict:
    out, err = process.communicate()
    if process.returncode:
        raise SystemExit(f"{tag} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def run_one(tree: Path, epochs: int, seed: int, work: Path, tag: str) -> dict:
    return result(start(tree, epochs, seed, work, tag), tag)


def run_together(old: Path, epochs: int, seed: int, work: Path) -> tuple[dict, dict]:
    """Old and new at once on cores (seed mod 2, the other); a side that ends first is
    followed on its core by a filler copy of itself until the other side ends."""
    cpus = (0, 1) if seed % 2 == 0 else (1, 0)
    trees = {"old": (old, cpus[0]), "new": (ROOT, cpus[1])}
    running = {}
    for tag, (tree, cpu) in trees.items():
        running[tag] = start(tree, epochs, seed, work, tag, cpu)
    results = {}
    try:
        while len(results) < 2:
            time.sleep(0.2)
            for tag in trees:
                if tag not in results and running[tag].poll() is not None:
                    results[tag] = result(running[tag], tag)
                    if len(results) == 1:
                        tree, cpu = trees[tag]
                        running["filler"] = start(tree, epochs, seed, work, "filler", cpu)
    finally:  # the filler, or every side when one failed: no process outlives the round
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results["old"], results["new"]


def old_tree(path: Path, commit: str) -> Path:
    if not (path / "cspsearch").is_dir():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit],
                       check=True, capture_output=True)  # fmt: skip
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=24, help="24: the default trial")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--old-commit", default="9b54720")
    parser.add_argument("--together", action="store_true", help="old and new at once, a core each")
    parser.add_argument("--old-tree", type=Path, default=Path("/tmp/old"))
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/efm_trial_speed.json"
    )
    args = parser.parse_args()
    old = old_tree(args.old_tree, args.old_commit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for seed in range(args.rounds):  # A B, then B A: a drifting load favours neither
            if args.together:
                a, b = run_together(old, args.epochs, seed, work)
            elif seed % 2 == 0:
                a = run_one(old, args.epochs, seed, work, "old")
                b = run_one(ROOT, args.epochs, seed, work, "new")
            else:
                b = run_one(ROOT, args.epochs, seed, work, "new")
                a = run_one(old, args.epochs, seed, work, "old")
            assert a.pop("config_key") == b.pop("config_key"), "not the same architecture"
            for r in (a, b):  # within one run, so a load shared by both cancels
                r["outside_steps_per_step_s"] = r["train_time_s"] / r["step_time_s"] - 1
            rows.append({"seed": seed, "old": a, "new": b,
                         "train_time_ratio": b["train_time_s"] / a["train_time_s"]})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
    ratios = [r["train_time_ratio"] for r in rows]
    result = {
        "what": "one csp_efm trial (the space's first, same architecture), old vs new, "
        + ("at once, a core each, cores swapped each round" if args.together else "A B, B A"),
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} logical cores, one thread a trial; "
        + Path("/proc/cpuinfo").read_text().split("model name")[1].split("\n")[0].strip(": \t"),
        "old_commit": args.old_commit,
        "epochs": args.epochs,
        "rows": rows,
        "train_time_ratio_mean": statistics.fmean(ratios),
        "faster_by_percent": 100 * (1 - statistics.fmean(ratios)),
        "val_ap50_old_new": [(r["old"]["val_ap50"], r["new"]["val_ap50"]) for r in rows],
        # Load-independent: evaluation + precise BN time per second of optimisation steps.
        "outside_steps_per_step_s_old_new": [
            (r["old"]["outside_steps_per_step_s"], r["new"]["outside_steps_per_step_s"])
            for r in rows
        ],
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    main()
