"""The per-epoch validation of a default csp_efm trial: pycocotools (9b54720's, still the final
score) against AP on the device (device_ap.py), side by side in one process, A B A B.

Scores the space's first architecture on the default validation split (225 images) untrained
and after a few epochs, one thread; both include the forward pass and decoding, which is also
timed alone, as is precise BN (run before every validation). Writes the times, the ratio and
both AP50s to a JSON file.

    python benchmarks/efm_evaluation.py [--repeats 3] [--epochs 2]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import optuna
import torch

from cspsearch.detection.task import detections
from cspsearch.detection.task import evaluate
from cspsearch.detection.task import evaluate_on_device
from cspsearch.space.loader import load_space
from cspsearch.space.loader import override_train
from cspsearch.training.loop import fit
from cspsearch.training.loop import precise_bn
from cspsearch.training.task import get_task

ROOT = Path(__file__).resolve().parents[1]


def timed(fn) -> tuple[float, dict]:
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/efm_evaluation.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = override_train(load_space("csp_efm"), epochs=args.epochs, precision="fp32")
    task = get_task(space.task)
    data = task.load_data(space, "cpu")
    arch = task.sample(space, optuna.create_study().ask(), data)
    torch.manual_seed(0)
    model = arch.build()
    rows = []
    for state in ("untrained", f"after {args.epochs} epochs"):
        if state != "untrained":
            fit(model, task.hooks(model, data, arch), replace(arch.train, precision="fp32"))
        coco, device, forward, bn = [], [], [], []
        for _ in range(args.repeats):  # A B A B, and the parts both share
            t, a = timed(lambda: evaluate(model, data.val))
            coco.append(t)
            t, b = timed(lambda: evaluate_on_device(model, data.val, data.num_classes))
            device.append(t)
            forward.append(timed(lambda: detections(model, data.val))[0])
            bn.append(timed(lambda: precise_bn(model, data.train.x[:256], "fp32"))[0])
        rows.append({
            "network": state, "pycocotools_s": coco, "device_s": device,
            "ratio_median": statistics.median(coco) / statistics.median(device),
            "forward_and_decoding_s": forward, "precise_bn_s": bn,
            "ap50_pycocotools": a["ap50"], "ap50_device": b["ap50"],
            "ap_pycocotools": a["ap"], "ap_device": b["ap"],
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    result = {
        "what": "validation of a csp_efm network (225 images): pycocotools vs AP on the device",
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} logical cores, one thread",
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
