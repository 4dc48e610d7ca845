"""The one output channel of the CLI: progress and log lines on stderr, errors as one line.

On a terminal a rich progress display shows trial i/N, the epoch of the running trial and the
Pareto set size; elsewhere (CI, pipes) only one plain line per finished trial is printed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import optuna
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn
from rich.progress import MofNCompleteColumn
from rich.progress import Progress
from rich.progress import TextColumn
from rich.progress import TimeElapsedColumn

console = Console(stderr=True, soft_wrap=True)


def trial_line(trial: optuna.trial.FrozenTrial, pareto_size: int) -> str:
    """One finished trial in a line: its parameters, outcome and the Pareto set size."""
    a = trial.user_attrs
    params = " ".join(f"{k}={v}" for k, v in trial.params.items()) or "(fixed architecture)"
    if trial.state.name == "FAIL":
        outcome = f"[red]failed[/red]: {escape(a.get('fail_reason', 'unknown reason'))}"
    elif a.get("infeasible"):
        outcome = f"[yellow]over budget[/yellow] ({escape(a['infeasible'])}), not trained"
    else:
        copied = f" (same as trial {a['duplicate_of']})" if "duplicate_of" in a else ""
        score = "val_ap50" if "val_ap50" in a else "val_accuracy"
        ort = f" · {a['latency_ort']:.3f} ms in ONNX Runtime" if "latency_ort" in a else ""
        outcome = (
            f"{score} {a.get(score, 0):.4f} · {a.get('macs', 0) / 1e6:.2f} "
            f"MMACs{ort} · {a.get('trial_time_s', 0):.1f} s{copied}"
        )
    return f"trial {trial.number}: {escape(params)} → {outcome} · Pareto set {pareto_size}"


class RunProgress:
    """Context manager fed by the objective (epochs) and by a study callback (trials)."""

    def __init__(self, total: int, live: bool = True, prefix: str = "") -> None:
        self.prefix = prefix  # e.g. "[worker 2] " when several processes share the terminal
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not (live and console.is_terminal),
        )
        self.trials = self.progress.add_task("trials", total=total)
        self.epochs = self.progress.add_task("epoch", total=1, visible=False)

    def __enter__(self) -> RunProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def on_epoch(self, number: int, epoch: int, epochs: int, val_accuracy: float) -> None:
        self.progress.update(
            self.epochs,
            visible=True,
            completed=epoch + 1,
            total=epochs,
            description=f"trial {number} epoch (val acc {val_accuracy:.3f})",
        )

    def on_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        pareto = pareto_size(study)
        self.progress.update(self.trials, advance=1, description=f"trials · Pareto set {pareto}")
        self.progress.update(self.epochs, visible=False, completed=0)
        console.print(escape(self.prefix) + trial_line(trial, pareto), highlight=False)


def summary(study: optuna.Study) -> str:
    """The end-of-run line: trials by outcome, failures by reason."""
    trials = study.get_trials(deepcopy=False)
    states = Counter(t.state.name.lower() for t in trials)
    over = sum(1 for t in trials if t.user_attrs.get("infeasible"))
    reasons = Counter(
        t.user_attrs["fail_reason"].split(":")[0]
        if "fail_reason" in t.user_attrs
        else "interrupted"
        if t.user_attrs.get("interrupted")
        else "lost with its worker (retried)"
        for t in trials
        if t.state.name == "FAIL"
    )
    text = (
        f"study {study.study_name}: {len(trials)} trials ({states['complete']} complete, "
        f"{over} of them over budget; {states['fail']} failed"
    )
    text += f": {', '.join(f'{k} × {v}' for k, v in reasons.items())}" if reasons else ""
    return text + f"); Pareto set {pareto_size(study)}"


def pareto_size(study: optuna.Study) -> int:
    """Distinct architectures on the Pareto front (a reused duplicate is not another one)."""
    return len({t.user_attrs.get("config_key", t.number) for t in study.best_trials})
