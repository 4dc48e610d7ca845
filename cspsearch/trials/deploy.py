"""A study's architectures as ONNX files (``cspsearch export STUDY --onnx DIR``).

Each chosen trial (the Pareto front of the trained, feasible trials, or ``--trials``) is rebuilt
from its stored configuration, given the final weights it kept as an artifact (artifacts.py;
a duplicate trial uses those of the trial it copies) or, where it kept none, fresh weights
(said in its line), exported with a dynamic batch dimension (cspsearch/measure/onnx.py),
checked in ONNX Runtime against PyTorch on a fixed random input, and the check written beside
the file as ``NAME.json``. A file that fails to export or to match is reported with its reason
and removed; the others are still written. A detector exports its raw head outputs.

The written files are then timed together in ONNX Runtime (batch 1, CPU provider, the study's
``ort_threads``), ``latency_s`` seconds each, in turns (measure/onnx.py ``time_interleaved``):
a drift of the host's speed then moves every file alike, and files are compared in one
measurement, which trials, timed one at a time, cannot do. The median, minimum and 10th/90th
percentiles go into each check and line.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import torch
from torch import nn

from cspsearch.compat import study_storage
from cspsearch.errors import StudyError
from cspsearch.measure.onnx import export_onnx
from cspsearch.measure.onnx import session
from cspsearch.measure.onnx import time_interleaved
from cspsearch.measure.onnx import verify
from cspsearch.models import build_model
from cspsearch.models.detector import Detector
from cspsearch.pareto import pareto_mask
from cspsearch.space.configs import DetectorConfig
from cspsearch.space.configs import ModelConfig
from cspsearch.trials.artifacts import WEIGHTS

COMPLETE = optuna.trial.TrialState.COMPLETE


@dataclass(frozen=True)
class Exported:
    """One trial's export: the file (None when it failed), its weights and the check."""

    trial: int
    path: Path | None
    weights: str  # "trained" or "fresh (why)"
    check: dict[str, Any]
    error: str = ""

    def line(self) -> str:
        if self.path is None:
            return f"trial {self.trial}: not written: {self.error}"
        diff = self.check["max_abs_diff"]
        weights = f"{self.weights} weights"
        line = f"{self.path} (trial {self.trial}, {weights}, max |ORT − PyTorch| {diff:.2g})"
        timed = self.check.get("latency_ort")
        if timed:
            threads = f"{timed['threads']} thread{'s' if timed['threads'] > 1 else ''}"
            line += (
                f": {timed['median_ms']:.3g} ms in ONNX Runtime (batch 1, {threads}; median of "
                f"{timed['runs']} runs, 10–90% {timed['p10_ms']:.3g}–{timed['p90_ms']:.3g}; "
                f"{timed['relative_to_fastest']:.2f}× the fastest file)"
            )
        return line


def choose_trials(
    study: optuna.Study, numbers: list[int] | None
) -> list[optuna.trial.FrozenTrial]:
    """Trials ``numbers``, or the Pareto front of the trained, feasible trials; StudyError for
    an unknown number or a study without trained trials."""
    done = study.get_trials(deepcopy=False, states=(COMPLETE,))
    trained = [t for t in done if t.user_attrs.get("trained") and "infeasible" not in t.user_attrs]
    if not trained:
        raise StudyError(f"study {study.study_name!r} has no trained trial to export")
    if numbers:
        by_number = {t.number: t for t in done if "config" in t.user_attrs}
        for n in numbers:
            if n not in by_number:
                known = ", ".join(str(k) for k in sorted(by_number)[:20])
                raise StudyError(
                    f"--trials: {n}: no completed trial {n} in study {study.study_name!r} "
                    f"(trials: {known})"
                )
        return [by_number[n] for n in numbers]
    directions = [d.name.lower() for d in study.directions]
    mask = pareto_mask([t.values for t in trained], directions)
    return [t for t, keep in zip(trained, mask) if keep]


def build_trial(trial: optuna.trial.FrozenTrial) -> tuple[nn.Module, int, int]:
    """The trial's network (fresh weights), its input size and its input channels."""
    config, size = trial.user_attrs["config"], int(trial.user_attrs["input_size"])
    model_cfg = ModelConfig(**config["model"])
    if "detector" in config:
        anchors = np.array(config["anchors"])
        detector_cfg = DetectorConfig(**config["detector"])
        model = Detector(model_cfg, detector_cfg, model_cfg.num_classes, anchors, size)
    else:
        model = build_model(model_cfg)
    return model.eval(), size, model_cfg.in_chans


def load_weights(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, store: Any, model: nn.Module
) -> str:
    """Load the trial's kept weights into ``model``: "trained", or "fresh (why)"."""
    from optuna.artifacts import download_artifact
    from optuna.artifacts import get_all_artifact_meta

    source = trial.user_attrs.get("duplicate_of", trial.number)
    owner = study.get_trials(deepcopy=False)[source] if source != trial.number else trial
    if not owner.user_attrs.get("trained"):
        return "fresh (not trained: over budget)"
    if store is None:
        return "fresh (no artifact folder)"
    metas = get_all_artifact_meta(owner, storage=study_storage(study))
    meta = next((m for m in metas if m.filename.endswith(WEIGHTS)), None)
    if meta is None:
        return "fresh (no weights kept: run with --keep-weights)"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / WEIGHTS
        try:
            download_artifact(
                artifact_store=store, file_path=str(path), artifact_id=meta.artifact_id
            )
        except Exception as exc:  # noqa: BLE001 (a missing file: say so, export anyway)
            return f"fresh (weights not readable: {type(exc).__name__})"
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return "trained"


def ort_threads(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> int:
    """The threads the study measured ``latency_ort`` with (its space's ``measure``), else 1."""
    space = study.user_attrs.get("space", {})
    return int(trial.user_attrs.get("ort_threads", space.get("measure", {}).get("ort_threads", 1)))


def time_files(exported: list[Exported], threads: int, window_s: float) -> None:
    """Time the written files together (the module docstring) and add each one's figures to
    its check and its ``.json``."""
    shapes = [(e.check["input_shape"][2], e.check["input_shape"][1]) for e in exported]
    sessions = [session(e.path, threads) for e in exported]
    times = time_interleaved(sessions, shapes, window_s)
    fastest = min(statistics.median(runs) for runs in times)
    for e, runs in zip(exported, times):
        deciles = statistics.quantiles(runs, n=10)
        e.check["latency_ort"] = {
            "median_ms": statistics.median(runs),
            "min_ms": min(runs),
            "p10_ms": deciles[0],
            "p90_ms": deciles[-1],
            "runs": len(runs),
            "window_s": window_s,
            "threads": threads,
            "batch": 1,
            "timed_in_turns_with": len(exported) - 1,  # other files, same rounds
            # The steadier figure: the host's drift moves the ms, hardly this (docs/deploying.md)
            "relative_to_fastest": statistics.median(runs) / fastest,
        }
        e.path.with_suffix(".json").write_text(json.dumps(e.check, indent=1), encoding="utf-8")


def export_trial(
    study: optuna.Study, trial: optuna.trial.FrozenTrial, folder: Path, store: Any
) -> Exported:
    """Write ``folder/STUDY-trialN.onnx`` and its check ``.json``; the failure, if any."""
    stem = f"{_safe(study.study_name)}-trial{trial.number}"
    path, record = folder / f"{stem}.onnx", folder / f"{stem}.json"
    try:
        model, size, chans = build_trial(trial)
        weights = load_weights(study, trial, store, model)
        data, exporter = export_onnx(model, size, chans, fallback=True)
        check = verify(session(data), model, size, chans)
    except Exception as exc:  # noqa: BLE001 (reported; the other trials are still written)
        return Exported(trial.number, None, "", {}, f"{type(exc).__name__}: {_line(exc)}")
    check = {
        "trial": trial.number,
        "study": study.study_name,
        "weights": weights,
        "exporter": exporter,
        "outputs": "logits" if "detector" not in trial.user_attrs["config"] else "raw heads",
        "onnxruntime": _ort_version(),
        "torch": torch.__version__,
        **check,
    }
    if not check["ok"]:
        path.unlink(missing_ok=True)
        record.write_text(json.dumps(check, indent=1), encoding="utf-8")
        why = f"ONNX Runtime differs from PyTorch by {check['max_abs_diff']:.3g}"
        return Exported(trial.number, None, weights, check, f"{why} (check in {record})")
    path.write_bytes(data)
    record.write_text(json.dumps(check, indent=1), encoding="utf-8")
    return Exported(trial.number, path, weights, check)


def export_study(
    study: optuna.Study,
    folder: Path,
    numbers: list[int] | None,
    store: Any,
    latency_s: float = 0.0,
    threads: int | None = None,
) -> list[Exported]:
    """Export every chosen trial of ``study`` to ``folder`` and, when ``latency_s`` > 0, time
    the written files (at ``threads``, else the study's); one result per trial."""
    trials = choose_trials(study, numbers)
    folder.mkdir(parents=True, exist_ok=True)
    results = [export_trial(study, t, folder, store) for t in trials]
    written = [r for r in results if r.path is not None]
    if latency_s > 0 and written:  # one study, one ort_threads: its first trial's
        time_files(written, threads or ort_threads(study, trials[0]), latency_s)
    return results


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def _line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else "no message"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
