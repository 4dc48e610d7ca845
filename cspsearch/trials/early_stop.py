"""Early stopping in multi-objective studies: asynchronous successive halving over Pareto
dominance at fixed epochs ("rungs"). No torch here; ``EarlyStop`` works on plain numbers and
``TrialStopper`` reads a study's earlier trials for it.

Optuna's pruners need ``trial.report``, which raises in multi-objective studies, so cspsearch
decides itself. Rungs are the epochs ``min_epochs · η^k`` below the training length (4 epochs,
η = 2: rungs after epochs 1 and 2). At a rung, the running trial is compared with every earlier
trial of the study that reached the same epoch (its validation accuracy *at that epoch* from its
learning curve, and its costs — MACs, parameters, latency, all known before training): a trial
is **dominated** by another that is at least as cheap in every cost and at least ``margin``
more accurate at that epoch. The trial goes on if at most a 1/η share of the rung's trials has
fewer dominators than it has (ties go on); otherwise training stops there. With a single
objective this is plain asynchronous successive halving (ASHA) on accuracy.

Why this keeps the search sound:

- Only dominated trials are stopped. A trial on the rung's Pareto front (nothing cheaper is
  more accurate) always continues, so the cheap end of the front is never cut for being less
  accurate than big models: comparisons are among architectures of similar or lower cost.
- Every comparison is at the same epoch of the same schedule, never a partial curve against a
  finished one.
- A stopped trial is recorded as COMPLETE with its accuracy at the epoch it stopped
  (``stopped_at_epoch``), the value it truly reached. It was dominated at that epoch by a
  cheaper, better trial whose accuracy only rises with training, so it stays dominated in the
  final front: neither the report's Pareto set nor the sampler's ranking of the good region
  changes. The sampler (TPE/NSGA-II) sees a low score for a region that was measured as worse,
  which is the direction of the truth; its only bias is to under-rate a stopped architecture
  by its remaining learning, which matters only for late bloomers (the risk every
  successive-halving scheme takes, bounded by η and ``min_population``). Marking such trials
  PRUNED instead would hide them from multi-objective samplers, which would then propose the
  same region again.
- Nothing is stopped before ``min_population`` trials have reached the rung.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from cspsearch.pareto import dominates

# Objectives known before training; minimised ones are the costs a rung compares.
COSTS = ("macs", "flops", "params", "latency", "latency_ort", "activations")
# (epoch index, score) → stop?; the type of cspsearch.training.loop.EpochCallback (no torch here)
EpochCallback = Callable[[int, float], bool | None]


@dataclass(frozen=True)
class RungPoint:
    """A trial as seen at one rung: its costs (smaller is better) and its accuracy then."""

    costs: tuple[float, ...]
    score: float


@dataclass(frozen=True)
class EarlyStop:
    """Settings of the successive-halving scheme (see the module docstring)."""

    eta: int = 2  # keep the best 1/eta of each rung
    min_epochs: int = 1  # the first rung
    min_population: int = 4  # trials that must have reached a rung before it stops any
    margin: float = 0.0  # accuracy a dominating trial must be ahead by (noise allowance)

    def rungs(self, epochs: int) -> list[int]:
        """Epochs (1-based counts) after which a trial may stop; all below ``epochs``."""
        out, rung = [], self.min_epochs
        while rung < epochs:
            out.append(rung)
            rung *= self.eta
        return out

    def should_stop(self, me: RungPoint, others: Sequence[RungPoint]) -> bool:
        """Whether ``me`` stops at this rung, given the earlier trials that reached it."""
        population = [*others, me]
        if len(population) < self.min_population:
            return False
        counts = [self.dominators(p, population) for p in population]
        mine = self.dominators(me, population)
        better = sum(1 for c in counts if c < mine)  # trials strictly ahead in the ranking
        keep = math.ceil(len(population) / self.eta)
        return better >= keep

    def dominators(self, p: RungPoint, population: Sequence[RungPoint]) -> int:
        """How many trials of ``population`` dominate ``p`` (cheaper or equal everywhere and
        at least ``margin`` more accurate, strictly better somewhere)."""
        return sum(1 for q in population if self._dominates(q, p))

    def _dominates(self, q: RungPoint, p: RungPoint) -> bool:
        ahead = q.score - p.score >= self.margin
        return ahead and dominates([*q.costs, -q.score], [*p.costs, -p.score])


def rung_points(
    trials: Sequence[tuple[tuple[float, ...], Sequence[float]]], epoch: int
) -> list[RungPoint]:
    """The trials ``(costs, accuracy per epoch)`` that reached ``epoch``, as rung points."""
    return [RungPoint(tuple(c), curve[epoch - 1]) for c, curve in trials if len(curve) >= epoch]


def study_curves(
    study: optuna.Study, costs: Sequence[str], exclude: int = -1
) -> list[tuple[tuple[float, ...], list[float]]]:
    """``(costs, validation accuracy per epoch)`` of each distinct architecture the study
    trained (stopped ones included, duplicates and trial ``exclude`` left out)."""
    seen, out = set(), []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        a = t.user_attrs
        if t.number == exclude or not a.get("trained") or "duplicate_of" in a:
            continue
        if a.get("config_key") in seen:
            continue
        seen.add(a.get("config_key"))
        out.append((tuple(float(a[n]) for n in costs), list(a.get("val_accuracy_curve", []))))
    return out


class TrialStopper:
    """The early-stopping decisions of one trial, as epoch callbacks for the trainer.

    The first seed's run is judged at each rung; further seeds of the same trial (``--seeds``)
    stop at the same epoch, so the trial's mean curve has one length.
    """

    def __init__(
        self,
        scheme: EarlyStop,
        study: optuna.Study,
        number: int,
        attrs: dict[str, Any],
        epochs: int,
        objectives: dict[str, str],
    ) -> None:
        self.scheme, self.study, self.number = scheme, study, number
        self.names = [k for k, d in objectives.items() if k in COSTS and d == "minimize"]
        self.costs = tuple(float(attrs[n]) for n in self.names)
        self.rungs = scheme.rungs(epochs)
        self.stopped_at: int | None = None
        self.reason = ""

    def callback(self, seed_index: int, then: EpochCallback | None = None) -> EpochCallback:
        """An epoch callback for seed ``seed_index`` that calls ``then`` (progress) first."""

        def on_epoch(epoch: int, accuracy: float) -> bool:
            if then is not None:
                then(epoch, accuracy)
            return self._decide(seed_index, epoch + 1, accuracy)

        return on_epoch

    def _decide(self, seed_index: int, epoch: int, accuracy: float) -> bool:
        if seed_index > 0 or epoch not in self.rungs or self.stopped_at is not None:
            return self.stopped_at is not None and epoch >= self.stopped_at
        others = rung_points(study_curves(self.study, self.names, self.number), epoch)
        me = RungPoint(self.costs, accuracy)
        if not self.scheme.should_stop(me, others):
            return False
        self.stopped_at = epoch
        self.reason = (
            f"dominated by {self.scheme.dominators(me, [*others, me])} of {len(others)} "
            f"trials at epoch {epoch} (accuracy {accuracy:.4f})"
        )
        return True

    def attrs(self) -> dict[str, Any]:
        """User attributes of a stopped trial (empty when it trained to the end)."""
        if self.stopped_at is None:
            return {}
        return {"stopped_at_epoch": self.stopped_at, "early_stop_reason": self.reason}
