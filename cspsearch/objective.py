"""One trial: sample → build → count MACs → (over budget? stop) → train → record.

Everything a report needs is stored as user attributes of the trial, as plain JSON values.
An architecture already evaluated in this study (same model and training config) is not
trained again: its results are copied and the trial records ``duplicate_of``.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import replace
from typing import Any

import optuna
import torch

from cspsearch.configs import ModelConfig
from cspsearch.configs import TrainConfig
from cspsearch.dashboard import upload_trial_artifacts
from cspsearch.data import Dataset
from cspsearch.data import load_dataset
from cspsearch.errors import CspSearchError
from cspsearch.latency import measure_latency
from cspsearch.macs import MacReport
from cspsearch.macs import count_macs
from cspsearch.models import build_model
from cspsearch.recovery import heartbeat
from cspsearch.recovery import sweep_stale
from cspsearch.sampling import sample_config
from cspsearch.space import SearchSpace
from cspsearch.train import EpochCallback
from cspsearch.train import train_briefly

# Attributes copied from an identical earlier trial instead of counting and training again.
COPIED = (
    "macs",
    "flops",
    "params",
    "params_no_bn",
    "input_size",
    "macs_by_stage",
    "macs_by_operator",
    "unsupported_ops",
    "activations",
    "latency",
    "latency_b32",
    "val_accuracy_std",
    "seed_results",
    "trained",
    "val_accuracy",
    "val_accuracy_curve",
    "train_loss_curve",
    "test_accuracy",
    "train_time_s",
    "infeasible",
)


def versions() -> dict[str, str]:
    """Versions of the software that produced a trial's numbers."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "fvcore": installed("fvcore"),
        "cspsearch": installed("cspsearch"),
    }


def pick_device(name: str = "auto") -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``."""
    return ("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name


class Objective:
    """Callable for ``study.optimize``; returns the space's objectives in order."""

    def __init__(
        self,
        space: SearchSpace,
        device: str = "auto",
        on_epoch: Callable[[int, int, int, float], None] | None = None,
        artifacts: Any | None = None,
        trial_timeout: float | None = None,
    ) -> None:
        self.space = space
        self.trial_timeout = trial_timeout  # seconds per trial, training included
        self.artifacts = artifacts  # an Optuna artifact store, or None for no uploads
        self.device = pick_device(device)
        self.on_epoch = on_epoch  # (trial number, epoch, epochs, val accuracy), for progress
        self._macs: dict[ModelConfig, MacReport] = {}  # counted once per architecture
        self._latency: dict[ModelConfig, dict[str, float]] = {}
        self._versions = versions()

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        start = time.perf_counter()
        sweep_stale(trial.study)  # retry trials whose worker died (Journal storages)
        try:
            with heartbeat(trial):
                return self._run(trial, start)
        except (CspSearchError, RuntimeError, MemoryError) as exc:  # recorded; the study goes on
            reason = str(exc).splitlines()[0] if str(exc) else "no message"
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {reason}")
            raise
        except KeyboardInterrupt:  # Optuna marks the trial failed; it does not count
            trial.set_user_attr("interrupted", True)
            raise

    def _run(self, trial: optuna.Trial, start: float) -> tuple[float, ...]:
        self._started = start
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        data = load_dataset(self.space.data, self.device)
        model_cfg, train_cfg = sample_config(self.space, trial)
        model_cfg = replace(model_cfg, in_chans=data.in_chans, num_classes=data.num_classes)
        key = json.dumps(
            {"model": model_cfg.to_dict(), "train": asdict(train_cfg)}, sort_keys=True
        )
        attrs: dict[str, Any] = {
            "config": json.loads(key),
            "config_key": key,
            "device": self.device,
            "versions": self._versions,
        }
        earlier = _find_duplicate(trial, key)
        if earlier is not None:  # neither trained nor counted again
            attrs.update(
                {k: earlier.user_attrs[k] for k in COPIED if k in earlier.user_attrs},
                duplicate_of=earlier.number,
            )
            self._set_constraints(trial, attrs)
        else:
            torch.manual_seed(train_cfg.seed)  # model initialisation
            model = build_model(model_cfg)
            if model_cfg not in self._macs:
                self._macs[model_cfg] = count_macs(
                    model, self.space.data.input_size, data.in_chans
                )
            if model_cfg not in self._latency:  # the untrained network is timed as well
                self._latency[model_cfg] = measure_latency(
                    model.to(self.device), self.space.data.input_size, data.in_chans, self.device
                )
            report = self._macs[model_cfg]
            attrs.update(
                macs=report.macs,
                flops=report.flops,
                params=report.params,
                params_no_bn=report.params_no_bn,
                input_size=report.input_size,
                macs_by_stage=report.by_stage,
                macs_by_operator=report.by_operator,
                unsupported_ops=report.unsupported_ops,
                activations=report.activations,
                **self._latency[model_cfg],
            )
            over = self._set_constraints(trial, attrs)
            if over:
                attrs.update(trained=False, infeasible=over)
            else:
                attrs.update(self._train(trial.number, model, model_cfg, train_cfg, data))
        attrs["trial_time_s"] = time.perf_counter() - start
        for name, value in attrs.items():
            trial.set_user_attr(name, value)
        if self.artifacts is not None and attrs.get("trained") and "duplicate_of" not in attrs:
            upload_trial_artifacts(trial, attrs, self.artifacts)
        return tuple(self._value(name, attrs) for name in self.space.objectives)

    def _train(
        self,
        number: int,
        model: torch.nn.Module,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        data: Dataset,
    ) -> dict[str, Any]:
        """Train ``train_cfg.seeds`` times (seeds seed, seed+1, …); the scores are the means."""
        runs = []
        deadline = self._started + self.trial_timeout if self.trial_timeout else None
        for k in range(train_cfg.seeds):
            cfg = replace(train_cfg, seed=train_cfg.seed + k)
            if k:  # a fresh initialisation for every further seed
                torch.manual_seed(cfg.seed)
                model = build_model(model_cfg)
            result = train_briefly(
                model.to(self.device), data, cfg, self._epoch_callback(number, k, cfg), deadline
            )
            runs.append(
                {
                    "seed": cfg.seed,
                    "val_accuracy": result.val_accuracy[-1],
                    "test_accuracy": result.test_accuracy,
                    "val_accuracy_curve": result.val_accuracy,
                    "train_loss_curve": result.train_loss,
                    "train_time_s": result.train_time_s,
                }
            )
        finals = [r["val_accuracy"] for r in runs]
        return {
            "trained": True,
            "val_accuracy": statistics.fmean(finals),
            "val_accuracy_std": statistics.stdev(finals) if len(finals) > 1 else 0.0,
            "test_accuracy": statistics.fmean(r["test_accuracy"] for r in runs),
            "val_accuracy_curve": [
                statistics.fmean(v) for v in zip(*(r["val_accuracy_curve"] for r in runs))
            ],
            "train_loss_curve": [
                statistics.fmean(v) for v in zip(*(r["train_loss_curve"] for r in runs))
            ],
            "train_time_s": sum(r["train_time_s"] for r in runs),
            "seed_results": runs,
        }

    def _set_constraints(self, trial: optuna.Trial, counts: dict[str, Any]) -> str:
        """Record every budget as a constraint (≤ 0 feasible); describe the ones exceeded."""
        over = []
        for name, limit in self.space.budget.items():
            used = counts[name]
            trial.set_constraint(name, used - limit)
            if used > limit:
                shown = f"{used:,}" if isinstance(used, int) else f"{used:.3g}"
                over.append(f"{name} {shown} > budget {limit:,.6g}")
        return "; ".join(over)

    def _epoch_callback(self, number: int, k: int, cfg: TrainConfig) -> EpochCallback | None:
        if self.on_epoch is None:
            return None
        on_epoch, epochs = self.on_epoch, cfg.epochs
        # Progress counts the epochs of every seed of the trial.
        return lambda epoch, acc: on_epoch(number, k * epochs + epoch, cfg.seeds * epochs, acc)

    @staticmethod
    def _value(name: str, attrs: dict[str, Any]) -> float:
        # NOTE: an untrained (over-budget) architecture scores 0 accuracy; its constraint marks
        # it infeasible, so samplers rank it below every feasible trial and reports leave it out.
        return float(attrs.get(name, 0.0))


def _find_duplicate(trial: optuna.Trial, key: str) -> optuna.trial.FrozenTrial | None:
    """An earlier complete trial of this study with the same configuration, if any."""
    done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return next((t for t in done if t.user_attrs.get("config_key") == key), None)
