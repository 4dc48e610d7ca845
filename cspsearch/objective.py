"""One trial: sample → build → count MACs → (over budget? stop) → train → record.

Everything a report needs is stored as user attributes of the trial, as plain JSON values.
An architecture already evaluated in this study (same model and training config) is not
trained again: its results are copied and the trial records ``duplicate_of``.
"""

from __future__ import annotations

import os
import platform
import socket
import time
from collections.abc import Callable
from collections.abc import Hashable
from typing import Any

import optuna
import torch

from cspsearch.classification import classification_attrs
from cspsearch.configs import TrainConfig
from cspsearch.dashboard import upload_trial_artifacts
from cspsearch.early_stop import EarlyStop
from cspsearch.early_stop import TrialStopper
from cspsearch.errors import CspSearchError
from cspsearch.recovery import heartbeat
from cspsearch.recovery import sweep_stale
from cspsearch.space import SearchSpace
from cspsearch.train import EpochCallback

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
    "step_time_s",
    "precision",
    "stopped_at_epoch",
    "early_stop_reason",
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
        early_stop: EarlyStop | None = None,
    ) -> None:
        self.space = space
        self.early_stop = early_stop  # successive halving over Pareto dominance, or None
        self.trial_timeout = trial_timeout  # seconds per trial, training included
        self.artifacts = artifacts  # an Optuna artifact store, or None for no uploads
        self.device = pick_device(device)
        self.on_epoch = on_epoch  # (trial number, epoch, epochs, val accuracy), for progress
        # Architecture (a ModelConfig, or a detector's configs) → MACs, params and latency:
        # counted and timed once per architecture, whichever trial meets it first.
        self.measured: dict[Hashable, dict[str, Any]] = {}
        self.software = versions()

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
        if self.space.is_detection:
            from cspsearch.detection.trial import detection_attrs  # torch-heavy; only here

            attrs = detection_attrs(self, trial)
        else:
            attrs = classification_attrs(self, trial)
        attrs["trial_time_s"] = time.perf_counter() - start
        for name, value in attrs.items():
            trial.set_user_attr(name, value)
        if self.artifacts is not None and attrs.get("trained") and "duplicate_of" not in attrs:
            upload_trial_artifacts(trial, attrs, self.artifacts)
        return tuple(self._value(name, attrs) for name in self.space.objectives)

    def stopper(
        self, trial: optuna.Trial, attrs: dict[str, Any], cfg: TrainConfig
    ) -> TrialStopper | None:
        """The early-stopping judge of this trial, when the run asked for one."""
        if self.early_stop is None:
            return None
        objectives = self.space.objectives
        return TrialStopper(
            self.early_stop, trial.study, trial.number, attrs, cfg.epochs, objectives
        )

    def find_duplicate(self, trial: optuna.Trial, key: str) -> optuna.trial.FrozenTrial | None:
        """An earlier complete trial of this study with the same configuration, if any."""
        done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        return next((t for t in done if t.user_attrs.get("config_key") == key), None)

    def copy_from(
        self,
        trial: optuna.Trial,
        earlier: optuna.trial.FrozenTrial,
        attrs: dict[str, Any],
        extra: tuple = (),
    ) -> dict[str, Any]:
        """``attrs`` plus the results of an identical earlier trial (and its constraints)."""
        copied = {k: earlier.user_attrs[k] for k in (*COPIED, *extra) if k in earlier.user_attrs}
        attrs = {**attrs, **copied, "duplicate_of": earlier.number}
        self.set_constraints(trial, attrs)
        return attrs

    def deadline(self) -> float | None:
        """The ``time.perf_counter()`` value the running trial must finish by, if any."""
        return self._started + self.trial_timeout if self.trial_timeout else None

    def set_constraints(self, trial: optuna.Trial, counts: dict[str, Any]) -> str:
        """Record every budget as a constraint (≤ 0 feasible); describe the ones exceeded."""
        over = []
        for name, limit in self.space.budget.items():
            used = counts[name]
            trial.set_constraint(name, used - limit)
            if used > limit:
                shown = f"{used:,}" if isinstance(used, int) else f"{used:.3g}"
                over.append(f"{name} {shown} > budget {limit:,.6g}")
        return "; ".join(over)

    def epoch_callback(self, number: int, k: int, cfg: TrainConfig) -> EpochCallback | None:
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
