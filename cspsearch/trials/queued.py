"""Studies whose trials their owner queues (an ablation's cells): workers run only the queued
trials, and a worker that joined follows the owner round by round.

A worker of such a study claims a WAITING trial itself (the same atomic WAITING → RUNNING step
Optuna takes, through the storage's public methods), runs the objective on it and tells the
result; when no trial waits it stops, and never samples a trial of its own: ``study.optimize``
would sample one whenever another worker took the last waiting trial first, and such a trial
has none of its owner's attributes (an ablation's reader drops it). The owner (``Owner``)
records in the study attribute ``queue`` whether it is running, which round it is in, the
settings its workers must share (``gradients``) and a time stamp it renews every
HEARTBEAT_INTERVAL seconds. A joined worker (``cspsearch worker``) waits for the next round
while the owner runs and exits when it is done, or when its stamp is older than the grace
period (the owner died: re-running it resumes). At the end of each round the owner waits for
the trials other workers still run (``settle``), failing stale ones so that their retries wait.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

import optuna
from optuna.trial import TrialState
from rich.markup import escape

from cspsearch.compat import study_id
from cspsearch.compat import study_storage
from cspsearch.compat import trial_id
from cspsearch.trials import progress
from cspsearch.trials.recovery import GRACE_PERIOD
from cspsearch.trials.recovery import HEARTBEAT_INTERVAL
from cspsearch.trials.recovery import sweep_stale

QUEUE = "queue"  # study attribute written by the owner (see the module docstring)
POLL = 1.0  # seconds between looks at the study while waiting
Callback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


def is_queued(attrs: dict[str, Any]) -> bool:
    """Whether a study (its user attributes) takes only queued trials: an ablation's (studies
    made before ``queue`` was recorded have ``ablation`` alone)."""
    return QUEUE in attrs or "ablation" in attrs


def claim(study: optuna.Study) -> optuna.Trial | None:
    """Take one waiting trial (None when none waits); it is RUNNING and this process's."""
    storage = study_storage(study)
    for t in storage.get_all_trials(study_id(study), deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(trial_id(t), state=TrialState.RUNNING):
                return optuna.Trial(study, trial_id(t))
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker finished it
            continue
    return None


def run_queued(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], Sequence[float]],
    timeout: float | None,
    callbacks: Sequence[Callback] = (),
    catch: tuple[type[BaseException], ...] = (),
) -> int:
    """Run waiting trials, one at a time, until none waits or ``timeout`` seconds passed; how
    many ran. A trial that raises one of ``catch`` is failed and the next one runs."""
    start, ran = time.monotonic(), 0
    while timeout is None or time.monotonic() - start < timeout:
        _fail_stale(study)
        trial = claim(study)
        if trial is None:
            break
        _run_one(study, trial, objective, callbacks, catch)
        ran += 1
    return ran


def _run_one(
    study: optuna.Study,
    trial: optuna.Trial,
    objective: Callable[[optuna.Trial], Sequence[float]],
    callbacks: Sequence[Callback],
    catch: tuple[type[BaseException], ...],
) -> None:
    """What ``study.optimize`` does with one trial: heartbeat, objective, tell, callbacks."""
    values, state, error = None, None, None
    with _rdb_heartbeat(study, trial_id(trial)):
        try:
            values = objective(trial)
        except catch:
            state = TrialState.FAIL
        except (Exception, KeyboardInterrupt) as exc:
            state, error = TrialState.FAIL, exc
    # A trial another worker failed as stale meanwhile (its heartbeat starved) keeps that
    # state: its retry is queued already, and this result is dropped.
    frozen = study.tell(trial, None if state else values, state=state, skip_if_finished=True)
    if error is not None:
        raise error
    for callback in callbacks:
        callback(study, frozen)


@contextmanager
def _rdb_heartbeat(study: optuna.Study, number: int) -> Iterator[None]:
    """Optuna's heartbeat for the trial on an RDB storage with one (Journal: recovery.py)."""
    storage = study_storage(study)
    interval = getattr(storage, "get_heartbeat_interval", lambda: None)()
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            storage.record_heartbeat(number)
            stop.wait(interval)

    thread = threading.Thread(target=beat, name="cspsearch-rdb-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _fail_stale(study: optuna.Study) -> None:
    """Fail running trials whose worker is gone; their retries wait (recovery.py)."""
    sweep_stale(study)  # Journal storages
    with warnings.catch_warnings():  # RDB storages: Optuna's own, marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def follow(study: optuna.Study, run: Callable[[float | None], int], timeout: float | None) -> str:
    """A joined worker: ``run(seconds left)`` the waiting trials, then wait for the owner's
    next round; why it stopped (done, the owner gone, ``timeout`` seconds, or no owner)."""
    end = None if timeout is None else time.monotonic() + timeout
    while end is None or time.monotonic() < end:
        run(None if end is None else end - time.monotonic())
        state = _reload(study).get(QUEUE)
        if state is None:
            return "no trial waits"
        if state.get("state") != "running":
            return f"the owner is {state.get('state')} (round {state.get('round')})"
        silent = time.time() - float(state.get("stamp", 0.0))
        if silent > GRACE_PERIOD:
            return f"the owner stopped: no sign of it for {silent:.0f} s (re-run it to resume)"
        time.sleep(POLL)
    return f"--timeout {timeout:g} s"


def _reload(study: optuna.Study) -> dict[str, Any]:
    return study_storage(study).get_study_user_attrs(study_id(study))


def settle(study: optuna.Study) -> int:
    """The owner, its own workers finished: wait while other workers run trials; the number
    of trials waiting again (lost trials retried) when some do, else 0 once none runs."""
    while True:
        _fail_stale(study)
        trials = study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING))
        waiting = sum(1 for t in trials if t.state == TrialState.WAITING)
        if waiting or not trials:
            return waiting
        time.sleep(POLL)


class Owner:
    """The owner's record in the study (``QUEUE``), renewed by a thread until ``close`` (or
    the end of its ``with`` block: done, or stopped by an error)."""

    def __init__(self, study: optuna.Study, **shared: Any) -> None:
        self.study, self.shared = study, shared
        self.state = {"state": "running", "round": 0}
        self.lock, self.stop = threading.Lock(), threading.Event()
        self._write()
        self.thread = threading.Thread(target=self._beat, name="cspsearch-owner", daemon=True)
        self.thread.start()

    def __enter__(self) -> Owner:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        self.close("done" if kind is None else "stopped")

    def next_round(self) -> int:
        self.state["round"] += 1
        self._write()
        return self.state["round"]

    def close(self, state: str = "done") -> None:
        self.stop.set()
        self.thread.join()
        self.state["state"] = state
        self._write()

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_INTERVAL):
            self._write()

    def _write(self) -> None:
        with self.lock:
            value = {**self.state, **self.shared, "stamp": time.time()}
            self.study.set_user_attr(QUEUE, value)


def shared(attrs: dict[str, Any]) -> dict[str, Any]:
    """The settings the owner of a study (its user attributes) gives every worker."""
    state = attrs.get(QUEUE, {})
    return {k: v for k, v in state.items() if k not in ("state", "round", "stamp")}


def run_cells(
    study: optuna.Study,
    objective: Callable[[optuna.Trial], Sequence[float]],
    timeout: float | None,
    callbacks: Sequence[Callback],
    *,
    joined: bool,
    catch: tuple[type[BaseException], ...],
    prefix: str = "",
) -> None:
    """Run a queued study's waiting trials; a ``joined`` worker then follows its owner."""
    if not joined:
        run_queued(study, objective, timeout, callbacks, catch)
        return
    run = lambda left: run_queued(study, objective, left, callbacks, catch)  # noqa: E731
    reason = follow(study, run, timeout)
    progress.console.print(f"{escape(prefix)}stopped: {escape(reason)}", highlight=False)
