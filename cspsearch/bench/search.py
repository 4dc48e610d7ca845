"""Search efficiency on a small categorical space evaluated exhaustively: every architecture
of the grid is trained once (its MACs and accuracy per epoch go into a table), then samplers
and the early-stopping scheme are replayed against the table, which makes many seeds cheap.
Replays with the same training code give the same numbers as real trials (training is
deterministic on the CPU), and a trial stopped after epoch e scores the table's accuracy at
epoch e, which is what the trainer would have returned."""

from __future__ import annotations

import json
import statistics
import warnings
from dataclasses import replace
from typing import Any

import optuna
import torch

from cspsearch.classification.data import load_dataset
from cspsearch.classification.task import train_briefly
from cspsearch.errors import BuildError
from cspsearch.measure.macs import count_macs
from cspsearch.models import build_model
from cspsearch.pareto import hypervolume_2d
from cspsearch.space.sampling import sample_config
from cspsearch.space.searchspace import SearchSpace
from cspsearch.stats import interval
from cspsearch.stats import paired
from cspsearch.trials.early_stop import EarlyStop
from cspsearch.trials.early_stop import TrialStopper
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.samplers import tpe_startup_trials

Table = dict[str, tuple[int, list[float]] | None]  # config → (MACs, accuracy per epoch) | failed


def _key(space: SearchSpace, trial: optuna.Trial) -> tuple[str, Any, Any]:
    model_cfg, train_cfg = sample_config(space, trial)
    return json.dumps(model_cfg.to_dict(), sort_keys=True), model_cfg, train_cfg


def evaluate_grid(space: SearchSpace, device: str) -> Table:
    """Train every architecture of ``space`` once (Optuna's BruteForceSampler enumerates it,
    conditional split ratios included)."""
    data = load_dataset(space.data, device)
    table: Table = {}

    def evaluate(trial: optuna.Trial) -> float:
        key, model_cfg, train_cfg = _key(space, trial)
        model_cfg = replace(model_cfg, in_chans=data.in_chans, num_classes=data.num_classes)
        try:
            torch.manual_seed(train_cfg.seed)
            model = build_model(model_cfg)
        except BuildError:
            table[key] = None
            return 0.0
        macs = count_macs(model, space.data.input_size, data.in_chans).macs
        result = train_briefly(model.to(device), data, train_cfg)
        table[key] = (macs, result.curve("accuracy"))
        return result.val[-1]["accuracy"]

    study = optuna.create_study(sampler=optuna.samplers.BruteForceSampler(seed=0))
    study.optimize(evaluate, n_trials=10_000)  # stops itself once the grid is exhausted
    return table


def reference(table: Table) -> list[float]:
    """Reference point (−accuracy, MACs), both minimised: the grid's worst final accuracy and
    its largest MACs, so the hypervolume measures the grid's own range (a loose point, e.g.
    accuracy 0, would let one cheap architecture score nearly the whole grid's)."""
    done = [v for v in table.values() if v]
    return [-min(v[1][-1] for v in done), max(v[0] for v in done)]


def grid_hypervolume(table: Table) -> float:
    points = [[-v[1][-1], v[0]] for v in table.values() if v]
    return hypervolume_2d(points, reference(table))


def trivial_ratio(table: Table) -> float:
    """The hypervolume of the grid's cheapest architecture alone ÷ the grid's: what a front
    of one trivial point scores (low means the reference point is tight)."""
    cheapest = min((v for v in table.values() if v), key=lambda v: v[0])
    point = [[-cheapest[1][-1], cheapest[0]]]
    return hypervolume_2d(point, reference(table)) / max(1e-12, grid_hypervolume(table))


class Replay:
    """One sampler run against the table, as a fresh in-memory study; ``epochs`` counts the
    training epochs it paid for (a duplicate architecture is copied, not trained: 0 epochs,
    as in real studies)."""

    def __init__(
        self,
        space: SearchSpace,
        table: Table,
        sampler: str,
        seed: int,
        n_trials: int,
        scheme: EarlyStop | None = None,
    ) -> None:
        self.space, self.table, self.scheme, self.epochs = space, table, scheme, 0
        self.history: list[tuple[int, float]] = []  # (epochs so far, hypervolume) per trial
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.study = optuna.create_study(
                directions=["maximize", "minimize"],
                sampler=make_sampler(sampler, seed, space, n_trials=n_trials),
            )
        if space.baseline_params():  # as cspsearch run does: the plain network first
            self.study.enqueue_trial(space.baseline_params())

    def run(self, n: int) -> None:
        for _ in range(n):
            self.study.optimize(self._objective, n_trials=1, catch=(BuildError,))
            self.history.append((self.epochs, self.hypervolume()))

    def epochs_to(self, target: float) -> int | None:
        """Epochs spent when the hypervolume first reached ``target`` (None: never)."""
        return next((e for e, hv in self.history if hv >= target - 1e-12), None)

    def hypervolume(self) -> float:
        done = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        return hypervolume_2d([[-t.values[0], t.values[1]] for t in done], reference(self.table))

    def _objective(self, trial: optuna.Trial) -> tuple[float, float]:
        key, _, train_cfg = _key(self.space, trial)
        entry = self.table[key]
        if entry is None:
            raise BuildError("no room for the split (as in the real trial)")
        macs, curve = entry
        trial.set_user_attr("config_key", key)
        trial.set_user_attr("macs", macs)
        done = trial.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        earlier = next((t for t in done if t.user_attrs["config_key"] == key), None)
        if earlier is not None:
            trial.set_user_attr("duplicate_of", earlier.number)
            return earlier.values[0], macs
        trained = len(curve)
        if self.scheme is not None:  # the objective's own stopper, fed the table's curve
            stopper = TrialStopper(
                self.scheme,
                trial.study,
                trial.number,
                {"macs": macs},
                train_cfg.epochs,
                self.space.objectives,
            )
            on_epoch = stopper.callback(0)
            trained = next((e + 1 for e in range(len(curve)) if on_epoch(e, curve[e])), trained)
        self.epochs += trained
        trial.set_user_attr("trained", True)
        trial.set_user_attr("val_accuracy_curve", curve[:trained])
        return curve[trained - 1], macs


def sampler_ratios(space: SearchSpace, table: Table, n_trials: int, seeds: int) -> dict[str, Any]:
    """Hypervolume after ``n_trials`` ÷ the grid's, per sampler over ``seeds`` seeds (mean and
    interval), and TPE and NSGA-II each against random search with the same seeds (paired)."""
    whole = max(1e-12, grid_hypervolume(table))
    out: dict[str, Any] = {
        "grid_size": len(table),
        "grid_hypervolume": whole,
        "hv_reference": "grid's worst final accuracy and largest MACs",
        "hv_ratio_trivial": trivial_ratio(table),
        "trials_fraction": n_trials / len(table),
        "sampler_trials": n_trials,
        "tpe_startup_trials": tpe_startup_trials(n_trials),
    }
    ratios: dict[str, list[float]] = {}
    for name in ("tpe", "nsga2", "random"):
        ratios[name] = []
        for seed in range(seeds):
            state = Replay(space, table, name, seed, n_trials)
            state.run(n_trials)
            ratios[name].append(state.hypervolume() / whole)
        spread = interval(ratios[name])
        out[f"hv_ratio_{name}"] = spread.mean
        out[f"hv_ratio_{name}_interval"] = [spread.low, spread.high]
    for name in ("tpe", "nsga2"):
        test = paired(ratios["random"], ratios[name])  # diff = sampler − random
        out[f"{name}_vs_random"] = {
            "mean_diff": test.diff.mean,
            "interval": [test.diff.low, test.diff.high],
            "p_value": test.p_value,
            "verdict": test.verdict,
            "seeds": seeds,
        }
    return out


def early_stop_fraction(
    space: SearchSpace, table: Table, n_trials: int, seeds: int, scheme: EarlyStop
) -> dict[str, Any]:
    """Epochs TPE with early stopping spends to first reach the hypervolume TPE without it
    reaches in ``n_trials`` trials, ÷ the epochs TPE without it spent to first reach it (both
    runs to the same hypervolume; mean over the seeds where both reached it)."""
    fractions, reached = [], 0
    for seed in range(seeds):
        plain = Replay(space, table, "tpe", seed, n_trials)
        plain.run(n_trials)
        target = plain.hypervolume()
        stopped = Replay(space, table, "tpe", seed, n_trials, scheme)
        for _ in range(3 * n_trials):  # at most 3 × the trials: past that, count as missed
            stopped.run(1)
            if stopped.epochs_to(target) is not None:
                break
        spent = stopped.epochs_to(target)
        if spent is not None:
            reached += 1
            fractions.append(spent / max(1, plain.epochs_to(target) or plain.epochs))
    return {
        "epochs_fraction_early_stop": statistics.fmean(fractions) if fractions else "n/a",
        "early_stop_reached": f"{reached}/{seeds}",
        "early_stop_scheme": scheme.__dict__,
    }
