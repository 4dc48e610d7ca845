"""Deployment figures (docs/deploying.md): the presets in eager PyTorch and in ONNX Runtime, and
the three targets of latency_ort on a csp_yolo study.

    python benchmarks/deploy.py presets [--out benchmarks/results/deploy_presets.json]
    python benchmarks/deploy.py exporters [--out benchmarks/results/deploy_exporters.json]
    python benchmarks/deploy.py study --storage URL --study NAME
        [--out benchmarks/results/deploy_study.json]
    python benchmarks/deploy.py across --storage URL --studies A B C [--out FILE]
    python benchmarks/deploy.py repeat [--trial | --min-s 0.2 --max-runs 200 | --interleaved 1.0]
        [--turns 4] [--out FILE]

``presets``: params, MACs (fvcore), eager latency (batch 1, median, torch's default threads)
and latency_ort at 1 and 2 threads of the ten YOLO presets and the CSPNet presets, fresh
weights, each exported once and checked against PyTorch.
``exporters``: torch.onnx.export with TorchScript's exporter (dynamo=False) against the dynamo
exporter on one csp_yolo network of the bundled space's size, in turn (T D T D T D), after one
unmeasured export each (imports); seconds per export, medians and their ratio.
``study`` (a study run with latency_ort, e.g. ``cspsearch run --space
benchmarks/csp_yolo_ort.yaml``): (1) the wall time of ``cspsearch export --onnx`` on six of
its trained architectures, three runs, median (target ≤ 30 s); (2) per trial, the time
latency_ort took over the rest of the trial, median (target ≤ 5%); (3) five architectures
measured twice in turn (A B C D E A B C D E), the ratio of each pair (target within 5%);
(4) ρ(MACs, latency_ort) per block and over all, and the largest rank gaps.
``across``: studies of one storage (which share one scale, trials/reference.py) side by side:
per pair, the architectures both measured, the ratio of their latency_ort and of their raw
medians (target within 5%).
``repeat``: the repeatability target without a study: eight csp_yolo architectures drawn from
benchmarks/csp_yolo_ort.yaml (random sampler, seed 0, fresh weights), each timed by
``time_session`` in a fresh session, four times in turn (A1 … H1, A2 … H2, …); each later
turn's ratio to the first, and the median ratio of a turn (a shift of the whole machine,
which no measurement of one architecture can remove). ``--trial`` measures as a trial does
(``latency_ort``: each network in turns with the reference network, at this process's scale);
without it each network is timed alone (the raw median, ``latency_ort_raw``'s timing before the
reference: at least 0.2 s or 200 runs; ``--min-s``/``--max-runs`` try another window);
``--interleaved SEC`` times the eight in rounds, SEC seconds each, as ``cspsearch export
--onnx`` times its files; the same runs' minimum is compared beside the median.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import torch

from cspsearch.measure.macs import count_macs
from cspsearch.measure.onnx import export_onnx
from cspsearch.measure.onnx import session
from cspsearch.measure.onnx import time_interleaved
from cspsearch.measure.onnx import time_runs
from cspsearch.measure.onnx import time_session
from cspsearch.measure.onnx import verify
from cspsearch.measure.ort_latency import measure_ort
from cspsearch.measure.ort_latency import time_against_reference
from cspsearch.models import build_model
from cspsearch.models.presets import PRESETS
from cspsearch.report.collect import collect
from cspsearch.report.deploy import measured
from cspsearch.report.deploy import rank_gaps
from cspsearch.report.deploy import rhos
from cspsearch.trials.deploy import build_trial

YOLO = [k for k, (cfg, _) in PRESETS.items() if cfg.family == "csp_yolo"]
CSPNET = ["cspresnet50", "cspresnext50", "cspdarknet53", "csppeleenet"]


def machine() -> dict[str, str]:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    import onnxruntime

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "load_average": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


@torch.no_grad()
def eager_ms(model: torch.nn.Module, size: int, repeats: int = 7, budget_s: float = 3.0) -> float:
    """Batch-1 eager latency as measure/latency.py times it (one warm-up, ≤ 7 runs, ≥ 3)."""
    x = torch.zeros(1, 3, size, size)
    model.eval()(x)
    times: list[float] = []
    while len(times) < repeats and (len(times) < 3 or sum(times) < 1000 * budget_s):
        start = time.perf_counter()
        model(x)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def presets(out: Path) -> None:
    rows = []
    for name in [*YOLO, *CSPNET]:
        cfg, size = PRESETS[name]
        torch.manual_seed(0)
        model = build_model(cfg).eval()
        macs = count_macs(model, size, 3)
        start = time.perf_counter()
        data, exporter = export_onnx(model, size, 3)
        export_s = time.perf_counter() - start
        check = verify(session(data), model, size, 3)
        row = {
            "name": name,
            "input_size": size,
            "params": macs.params,
            "macs": macs.macs,
            "eager_ms": eager_ms(model, size),
            "latency_ort_1t": time_session(session(data, 1), size, 3),
            "latency_ort_2t": time_session(session(data, 2), size, 3),
            "max_abs_diff": check["max_abs_diff"],
            "ok": check["ok"],
            "export_s": export_s,
            "exporter": exporter,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    write(out, {"machine": machine(), "presets": rows}, presets_md(rows))


def presets_md(rows: list[dict]) -> str:
    lines = [
        "| network | input | params | MACs | eager ms | latency_ort 1 thread | 2 threads "
        "| eager / ORT (1 t) | max diff | export s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['input_size']} | {r['params'] / 1e6:.2f} M "
            f"| {r['macs'] / 1e9:.3f} G | {r['eager_ms']:.1f} | {r['latency_ort_1t']:.1f} "
            f"| {r['latency_ort_2t']:.1f} | {r['eager_ms'] / r['latency_ort_1t']:.2f} "
            f"| {r['max_abs_diff']:.0e} | {r['export_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def exporters(out: Path, rounds: int = 3) -> None:
    import io
    import logging
    import warnings

    from cspsearch.space.configs import ModelConfig

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    cfg = ModelConfig(
        family="csp_yolo", num_stages=3, stem_width=16, stride=(1, 2, 2), out_chs=48, depth=2,
        block=("c2f", "c3k2", "gelan"), down_growth=True, tail="sppf", activation="silu",
    )  # fmt: skip
    model, x = build_model(cfg).eval(), torch.zeros(1, 1, 16, 16)

    def once(dynamo: bool) -> float:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                torch.onnx.export(
                    model,
                    (x,),
                    input_names=["input"],
                    dynamo=True,
                    dynamic_shapes=({0: torch.export.Dim("batch")},),
                    verbose=False,
                )
            else:
                torch.onnx.export(
                    model,
                    (x,),
                    io.BytesIO(),
                    input_names=["input"],
                    dynamo=False,
                    dynamic_axes={"input": {0: "batch"}},
                    opset_version=17,
                )
        return time.perf_counter() - start  # fmt: skip

    once(False), once(True)  # imports and first-call set-up, not measured
    runs = {"torchscript": [], "dynamo": []}
    for _ in range(rounds):
        runs["torchscript"].append(once(False))
        runs["dynamo"].append(once(True))
    medians = {k: statistics.median(v) for k, v in runs.items()}
    result = {"machine": machine(), "runs_s": runs, "median_s": medians,
              "dynamo_over_torchscript": medians["dynamo"] / medians["torchscript"]}  # fmt: skip
    write(out, result, json.dumps(result, indent=1))


def study_figures(storage: str, name: str, artifacts: Path, out: Path) -> None:
    study = optuna.load_study(study_name=name, storage=storage)
    trained = [
        t for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        if t.user_attrs.get("trained") and "duplicate_of" not in t.user_attrs
    ]  # fmt: skip
    six = [t.number for t in trained[:6]]
    export_runs = []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = ["cspsearch", "export", name, "--storage", storage, "--onnx", tmp,
                   "--trials", ",".join(map(str, six)), "--artifacts", str(artifacts),
                   "--latency-s", "0"]  # fmt: skip  (export and check: the target's work)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            export_runs.append(time.perf_counter() - start)
    measured_trials = [t for t in study.trials if "ort_time_s" in t.user_attrs]
    overhead = [
        t.user_attrs["ort_time_s"] / (t.user_attrs["trial_time_s"] - t.user_attrs["ort_time_s"])
        for t in measured_trials
    ]
    repeat = repeatability(study, trained[:5])
    data = collect(storage, name, importances=False)
    rows = measured(data)
    result = {
        "machine": machine(),
        "study": name,
        "export_front": {"trials": six, "runs_s": export_runs,
                         "median_s": statistics.median(export_runs), "target_s": 30},
        "latency_ort_overhead": {
            "trials": len(overhead), "median": statistics.median(overhead),
            "max": max(overhead), "target": 0.05,
            "ort_time_s_median": statistics.median(
                t.user_attrs["ort_time_s"] for t in measured_trials),
            "trial_time_s_median": statistics.median(
                t.user_attrs["trial_time_s"] for t in measured_trials),
        },
        "repeatability": repeat,
        "rho": [r._asdict() for r in rhos(rows)],
        "rank_gaps": [
            {"trial": r.number, "block": r.params.get("block"), "macs": r.macs,
             "latency_ort": r.latency_ort_ms, "macs_rank": m, "latency_rank": k}
            for r, m, k in rank_gaps(rows, 8)
        ],
    }  # fmt: skip
    write(out, result, json.dumps(result, indent=1))


def repeatability(study: optuna.Study, trials: list[optuna.trial.FrozenTrial]) -> list[dict]:
    """Each architecture measured twice, in turn, by the trial's own measurement at the study's
    scale; beside it, the figure the trial recorded during the study."""
    (scale,) = [e["ms"] for e in study.user_attrs.get("ort_reference", {}).values()] or [None]
    models = [build_trial(t) for t in trials]
    first = [measure_ort(m, s, c, 1, scale_ms=scale)["latency_ort"] for m, s, c in models]
    second = [measure_ort(m, s, c, 1, scale_ms=scale)["latency_ort"] for m, s, c in models]
    return [
        {"trial": t.number, "first_ms": a, "second_ms": b, "ratio": b / a,
         "recorded_ms": t.user_attrs["latency_ort"],
         "first_to_recorded": a / t.user_attrs["latency_ort"]}
        for t, a, b in zip(trials, first, second)
    ]  # fmt: skip


def repeat(out: Path, timing: dict, turns: int, count: int = 8) -> None:
    from cspsearch.space.loader import load_space
    from cspsearch.space.sampling import sample_config

    space = load_space("benchmarks/csp_yolo_ort.yaml")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    models = []
    for _ in range(count):
        model_cfg, _ = sample_config(space, study.ask())
        data, _ = export_onnx(build_model(model_cfg).eval(), 16, 1, fallback=False)
        models.append((model_cfg.block[0], data))
    # A1 B1 … then A2 B2 …: a fresh session each time, as each trial has its own; or, as
    # `cspsearch export --onnx` times its files, all eight in rounds (time_interleaved).
    if timing.get("reference"):  # as a trial measures latency_ort (measure/ort_latency.py)
        runs = [
            [[time_against_reference(session(d, 1), 16, 1, 1)["latency_ort"]] for _, d in models]
            for _ in range(turns)
        ]
    elif "interleaved_s" in timing:
        window = timing["interleaved_s"]  # each network's share
        runs = [
            time_interleaved([session(d, 1) for _, d in models], [(16, 1)] * count, window)
            for _ in range(turns)
        ]
    else:
        runs = [
            [time_runs(session(d, 1), 16, 1, **timing) for _, d in models] for _ in range(turns)
        ]
    ms = [[statistics.median(r) for r in turn] for turn in runs]  # latency_ort's statistic
    ratios = [[t[i] / ms[0][i] for i in range(count)] for t in ms[1:]]
    fastest = [[min(r) for r in turn] for turn in runs]  # the same runs' minimum, beside it
    min_ratios = [t[i] / fastest[0][i] for t in fastest[1:] for i in range(count)]
    shifts = [statistics.median(r) for r in ratios]  # the whole machine faster or slower
    result = {
        "machine": machine(), "timing": timing, "blocks": [b for b, _ in models], "ms": ms,
        "ratios": ratios, "outside_target": sum(abs(x - 1) > 0.05 for r in ratios for x in r),
        "pairs": sum(len(r) for r in ratios),
        "worst_deviation": [max(abs(x - 1) for x in r) for r in ratios],
        "median_deviation": [statistics.median(abs(x - 1) for x in r) for r in ratios],
        "shift": shifts,
        "worst_after_shift": [max(abs(x / s - 1) for x in r) for r, s in zip(ratios, shifts)],
        "target": 0.05,
        "min_outside_target": sum(abs(x - 1) > 0.05 for x in min_ratios),
        "min_worst_deviation": max(abs(x - 1) for x in min_ratios),
    }  # fmt: skip
    lines = [
        "| turn | worst |ratio − 1| | median |ratio − 1| | median ratio (shift) "
        "| worst after the shift |",
        "|---|---|---|---|---|",
    ]
    for j in range(turns - 1):
        lines.append(
            f"| {j + 2} / 1 | {result['worst_deviation'][j]:.3f} "
            f"| {result['median_deviation'][j]:.3f} | {shifts[j]:.3f} "
            f"| {result['worst_after_shift'][j]:.3f} |"
        )
    minimum = (
        f"; the same runs' minimum instead of the median: {result['min_outside_target']} "
        f"outside, worst {result['min_worst_deviation']:.3f}"
    )
    if timing.get("reference"):  # one latency_ort per measurement: no runs to take a minimum of
        del result["min_outside_target"], result["min_worst_deviation"]
        minimum = ""
    lines.append(
        f"\n{result['outside_target']} of {result['pairs']} ratios outside 5% (timing {timing})"
        + minimum
    )
    write(out, result, "\n".join(lines) + "\n")


def across(storage: str, names: list[str], out: Path) -> None:
    """Studies of one storage side by side: for each pair, the architectures both measured
    (by ``config_key``), the ratio of their ``latency_ort`` and of their raw medians."""

    def figures(name: str) -> dict[str, dict]:
        trials = optuna.load_study(study_name=name, storage=storage).trials
        return {
            t.user_attrs["config_key"]: t.user_attrs
            for t in trials
            if "latency_ort_raw" in t.user_attrs and "duplicate_of" not in t.user_attrs
        }

    def summary(ratios: list[float]) -> dict:
        return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
                "outside_target": sum(abs(x - 1) > 0.05 for x in ratios)}  # fmt: skip

    measured_by = {name: figures(name) for name in names}
    head = "| studies | architectures | latency_ort ratio | raw median ratio |"
    pairs, lines = [], [head, "|---|---|---|---|"]  # a ratio: median, range, count outside 5%
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            first, second = measured_by[a], measured_by[b]
            both = sorted(set(first) & set(second))
            row = {"studies": [a, b], "architectures": len(both)}
            for attr in ("latency_ort", "latency_ort_raw"):
                row[attr] = summary([second[k][attr] / first[k][attr] for k in both])
            pairs.append(row)
            cells = [
                f"{r['median']:.3f}, {r['min']:.3f}–{r['max']:.3f}, {r['outside_target']} outside"
                for r in (row["latency_ort"], row["latency_ort_raw"])
            ]
            lines.append(f"| {a} / {b} | {len(both)} | {cells[0]} | {cells[1]} |")
    write(out, {"machine": machine(), "storage": storage, "pairs": pairs}, "\n".join(lines) + "\n")


def write(out: Path, result: dict, markdown: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    out.with_suffix(".md").write_text(markdown, encoding="utf-8")
    print(out, file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["presets", "exporters", "study", "repeat", "across"])
    parser.add_argument("--storage", default="sqlite:///reports/cspsearch.db")
    parser.add_argument("--study", default="csp_yolo_ort-seed0")
    parser.add_argument("--studies", nargs="+", help="across: the studies to compare")
    parser.add_argument("--artifacts", type=Path, default=Path("reports/artifacts"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--min-s", type=float, default=0.2, help="repeat: timed window")
    parser.add_argument("--max-runs", type=int, default=200, help="repeat: runs at most")
    parser.add_argument("--turns", type=int, default=4, help="repeat: measurements of each")
    parser.add_argument("--interleaved", type=float, help="repeat: as export, SEC a network")
    parser.add_argument("--trial", action="store_true", help="repeat: as a trial measures")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    results = Path("benchmarks/results")
    if args.what == "presets":
        presets(args.out or results / "deploy_presets.json")
    elif args.what == "repeat":
        timing = {"min_s": args.min_s, "max_runs": args.max_runs}
        if args.interleaved:
            timing = {"interleaved_s": args.interleaved}
        elif args.trial:
            timing = {"reference": True}
        repeat(args.out or results / "deploy_repeat.json", timing, args.turns)
    elif args.what == "across":
        across(args.storage, args.studies, args.out or results / "deploy_across.json")
    elif args.what == "exporters":
        exporters(args.out or results / "deploy_exporters.json")
    else:
        out = args.out or results / "deploy_study.json"
        study_figures(args.storage, args.study, args.artifacts, out)


if __name__ == "__main__":
    main()
