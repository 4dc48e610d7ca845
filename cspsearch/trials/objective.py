"""One trial, for every task: sample → build → measure (once per architecture) → over budget?
stop → train each seed with the one training loop → record.

The task (cspsearch/training/task.py) supplies the data, the network, the loss and the
evaluation; everything else lives here. Everything a report needs is stored as user attributes
of the trial, as plain JSON values. An architecture already evaluated in this study (same
configs) is not trained again: its results are copied and the trial records ``duplicate_of``
(never from a trial stopped early into a run that trains to the end).
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from collections.abc import Hashable
from dataclasses import asdict
from dataclasses import replace
from functools import partial
from typing import Any

import optuna
import torch

from cspsearch.errors import CspSearchError
from cspsearch.measure.gradients import duplication_attrs
from cspsearch.measure.ort_latency import measure_ort
from cspsearch.space.configs import TrainConfig
from cspsearch.space.searchspace import SearchSpace
from cspsearch.training.device import pick_device
from cspsearch.training.device import versions
from cspsearch.training.graphs import graph_attrs
from cspsearch.training.loop import EpochCallback
from cspsearch.training.loop import fit
from cspsearch.training.precision import autocast
from cspsearch.training.precision import resolve_precision
from cspsearch.training.task import Arch
from cspsearch.training.task import get_task
from cspsearch.trials.artifacts import upload_trial_artifacts
from cspsearch.trials.attrs import set_user_attrs
from cspsearch.trials.early_stop import EarlyStop
from cspsearch.trials.early_stop import TrialStopper
from cspsearch.trials.recovery import heartbeat
from cspsearch.trials.recovery import sweep_stale
from cspsearch.trials.reference import study_scale
from cspsearch.trials.results import COPIED
from cspsearch.trials.results import summarise
from cspsearch.trials.rules import check_run
from cspsearch.trials.rules import needs_ort


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
        gradients: bool = False,
        cuda_graphs: bool = True,
        keep_weights: bool = True,
    ) -> None:
        check_run(space, early_stop is not None)  # e.g. no early stopping for detectors yet
        self.space = space
        self.task = get_task(space.task)
        self.early_stop = early_stop  # successive halving over Pareto dominance, or None
        self.trial_timeout = trial_timeout  # seconds per trial, training included
        self.artifacts = artifacts  # an Optuna artifact store, or None for no uploads
        self.device = pick_device(device)
        self.on_epoch = on_epoch  # (trial number, epoch, epochs, score), for progress
        self.gradients = gradients  # gradient duplication of the last seed's trained network
        self.cuda_graphs = cuda_graphs  # on CUDA, each step as one graph (training/graphs.py)
        self.keep_weights = keep_weights  # the last seed's final weights go with the artifacts
        self.trained: torch.nn.Module | None = None  # the last trained network, for its weights
        # Architecture key → MACs, params and latency: counted and timed once per
        # architecture, whichever trial meets it first.
        self.measured: dict[Hashable, dict[str, Any]] = {}
        # Latency is timed only when an objective or budget names it (timing is noisy and
        # cost ~5% of a small trial); reports leave its column out otherwise.
        costs = (*space.objectives, *space.budget)
        self.latency = any(name in ("latency", "latency_b32") for name in costs)
        # latency_ort (ONNX Runtime, CPU): when an objective or budget names it or the space
        # has a measure: section (cspsearch/measure/onnx.py).
        self.ort = needs_ort(space)
        self.ort_scored = "latency_ort" in costs  # a trial without it cannot be scored
        self.ort_threads = int(space.measure.get("ort_threads", 1))
        self.scales: dict[tuple[int, int, int], float] = {}  # latency_ort's (trials/reference.py)
        self.software = versions()

    def __call__(self, trial: optuna.Trial) -> tuple[float, ...]:
        start = time.perf_counter()
        sweep_stale(trial.study)  # retry trials whose worker died (Journal storages)
        try:
            with heartbeat(trial):
                attrs = self._run(trial, start)
        except (CspSearchError, RuntimeError, MemoryError) as exc:  # recorded; the study goes on
            reason = str(exc).splitlines()[0] if str(exc) else "no message"
            trial.set_user_attr("fail_reason", f"{type(exc).__name__}: {reason}")
            raise
        except KeyboardInterrupt:  # Optuna marks the trial failed; it does not count
            trial.set_user_attr("interrupted", True)
            raise
        # NOTE: an untrained (over-budget) architecture scores 0; its constraint marks it
        # infeasible, so samplers rank it below every feasible trial and reports leave it out.
        return tuple(float(attrs.get(name, 0.0)) for name in self.space.objectives)

    def _run(self, trial: optuna.Trial, start: float) -> dict[str, Any]:
        deadline = start + self.trial_timeout if self.trial_timeout else None
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        data = self.task.load_data(self.space, self.device)
        arch = self.task.sample(self.space, trial, data)
        # The precision that runs (auto → fp32 or bf16) is part of the trial's configuration.
        train_cfg = replace(
            arch.train, precision=resolve_precision(self.device, arch.train.precision)
        )
        key = json.dumps({**arch.config, "train": asdict(train_cfg)}, sort_keys=True)
        attrs: dict[str, Any] = {
            "config": json.loads(key),
            "config_key": key,
            "device": self.device,
            "versions": self.software,
            **arch.attrs,
        }
        earlier = self._duplicate(trial, key)
        if earlier is not None:  # neither trained nor counted again
            names = (*COPIED, *self.task.copied)
            copied = {k: earlier.user_attrs[k] for k in names if k in earlier.user_attrs}
            attrs.update(copied, duplicate_of=earlier.number)
            self._constrain(trial, attrs)
        else:
            attrs.update(self._evaluate(trial, arch, train_cfg, data, attrs, deadline))
        attrs["trial_time_s"] = time.perf_counter() - start
        set_user_attrs(trial, attrs)  # one storage statement, not one commit per attribute
        if self.artifacts is not None and attrs.get("trained") and "duplicate_of" not in attrs:
            weights = self.trained if self.keep_weights else None
            upload_trial_artifacts(trial, attrs, self.artifacts, weights)
        self.trained = None
        return attrs

    def _evaluate(
        self,
        trial: optuna.Trial,
        arch: Arch,
        cfg: TrainConfig,
        data: Any,
        attrs: dict[str, Any],
        deadline: float | None,
    ) -> dict[str, Any]:
        """Measure (once per architecture), check the budget, then train every seed."""
        torch.manual_seed(cfg.seed)  # model initialisation
        model = arch.build()
        if arch.key not in self.measured:  # the untrained network is timed as well
            self.measured[arch.key] = self._measure(model, arch, trial.study)
        out = dict(self.measured[arch.key])
        if self.ort_scored and "latency_ort" not in out:  # recorded; the study goes on
            trial.set_user_attr("latency_ort_missing", out["latency_ort_missing"])
            raise CspSearchError(f"latency_ort missing: {out['latency_ort_missing']}")
        over = self._constrain(trial, {**attrs, **out})
        if over:
            return {**out, "trained": False, "infeasible": over}
        stopper = self._stopper(trial, out, cfg)
        runs = []
        for k in range(cfg.seeds):  # seeds seed, seed+1, …; the scores are the means
            seed_cfg = replace(cfg, seed=cfg.seed + k)
            if k:  # a fresh initialisation for every further seed
                torch.manual_seed(seed_cfg.seed)
                model = arch.build()
            callback = self._epoch_callback(trial.number, k, cfg)
            if stopper is not None:
                callback = stopper.callback(k, callback)
            model = model.to(self.device)
            hooks = self.task.hooks(model, data, arch)
            result = fit(model, hooks, seed_cfg, callback, deadline, self.cuda_graphs)
            runs.append((seed_cfg.seed, result))
        out.update(summarise(runs, self.task))
        out.update(graph_attrs([r for _, r in runs], self.device))  # ran graphed, or why not
        self.trained = model
        if self.gradients:  # on the last seed's trained network (cspsearch/measure/gradients.py)
            ctx = partial(autocast, self.device, cfg.precision)
            out.update(duplication_attrs(model, hooks, seed_cfg, ctx))
        return {**out, **(stopper.attrs() if stopper is not None else {})}

    def _measure(self, model: torch.nn.Module, arch: Arch, study: optuna.Study) -> dict[str, Any]:
        """MACs, parameters and latencies of the untrained network: the task's figures, then
        ONNX Runtime's on the CPU whatever the trial's device (when the space asks for it), at
        the study's scale (trials/reference.py)."""
        out = self.task.measure(model, arch, self.device, self.latency)
        if self.ort:
            shape = (arch.input_size, arch.in_chans, self.ort_threads)
            if shape not in self.scales:  # stored once on the study: read once per process
                self.scales[shape] = study_scale(study, *shape)
            out.update(measure_ort(model, *shape, scale_ms=self.scales[shape]))
        return out

    def _duplicate(self, trial: optuna.Trial, key: str) -> optuna.trial.FrozenTrial | None:
        """An earlier complete trial of this study with the same configuration, if any. A trial
        stopped early is a source only when this run stops early too: its partial result is
        never copied into a trial that should train to the end."""
        done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        partial_ok = self.early_stop is not None
        return next(
            (
                t
                for t in done
                if t.user_attrs.get("config_key") == key
                and (partial_ok or "stopped_at_epoch" not in t.user_attrs)
            ),
            None,
        )

    def _constrain(self, trial: optuna.Trial, counts: dict[str, Any]) -> str:
        """Record every budget as a constraint (≤ 0 feasible); describe the ones exceeded."""
        over = []
        for name, limit in self.space.budget.items():
            used = counts[name]
            trial.set_constraint(name, used - limit)
            if used > limit:
                shown = f"{used:,}" if isinstance(used, int) else f"{used:.3g}"
                over.append(f"{name} {shown} > budget {limit:,.6g}")
        return "; ".join(over)

    def _stopper(
        self, trial: optuna.Trial, attrs: dict[str, Any], cfg: TrainConfig
    ) -> TrialStopper | None:
        """The early-stopping judge of this trial, when the run asked for one."""
        if self.early_stop is None:
            return None
        objectives = self.space.objectives
        return TrialStopper(
            self.early_stop, trial.study, trial.number, attrs, cfg.epochs, objectives
        )

    def _epoch_callback(self, number: int, k: int, cfg: TrainConfig) -> EpochCallback | None:
        if self.on_epoch is None:
            return None
        on_epoch, epochs = self.on_epoch, cfg.epochs
        # Progress counts the epochs of every seed of the trial.
        return lambda epoch, score: on_epoch(number, k * epochs + epoch, cfg.seeds * epochs, score)
