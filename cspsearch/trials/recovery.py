"""Trials that outlive their worker: heartbeats, stale-trial sweeps and retries.

RDB storages (SQLite, PostgreSQL) use Optuna's own heartbeat: a worker records one every
``HEARTBEAT_INTERVAL`` seconds, and before each new trial Optuna fails the running trials whose
heartbeat is older than ``GRACE_PERIOD`` and enqueues their parameters again
(``RetryFailedTrialCallback``). Optuna's Journal storage has no heartbeat, so for it this module
does the same: a thread stamps the running trial, and a sweep before each trial fails stale
ones and enqueues a retry. ``CSPSEARCH_HEARTBEAT_GRACE`` (seconds) shortens the grace period,
for tests.

A trial counts towards a study's ``n_trials`` when it completed, or failed for a reason of its
own (``fail_reason``: an impossible architecture, divergence, a timeout, out of memory). A trial
lost with its worker or interrupted by Ctrl-C does not count.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import optuna
from optuna.trial import TrialState

from cspsearch.compat import study_storage
from cspsearch.compat import trial_id

GRACE_PERIOD = int(os.environ.get("CSPSEARCH_HEARTBEAT_GRACE", "60"))
HEARTBEAT_INTERVAL = max(1, min(10, GRACE_PERIOD // 3))
STAMP = "cspsearch:heartbeat"  # trial system attribute: time of the last heartbeat
RETRY_OF = "retry_of"  # user attribute of a retried trial: the number of the lost one


def counted_trials(study: optuna.Study) -> int:
    """Trials that count towards ``n_trials`` (see the module docstring)."""
    return sum(1 for t in study.get_trials(deepcopy=False) if counts(t))


def counts(t: optuna.trial.FrozenTrial) -> bool:
    if t.state == TrialState.COMPLETE:
        return True
    return (
        t.state == TrialState.FAIL
        and "fail_reason" in t.user_attrs
        and not t.user_attrs.get("interrupted")
    )


def rdb_heartbeat() -> dict:
    """RDBStorage keyword arguments for Optuna's heartbeat with retries."""
    return {
        "heartbeat_interval": HEARTBEAT_INTERVAL,
        "grace_period": GRACE_PERIOD,
        "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
            max_retry=3
        ),
    }


def needs_own_heartbeat(study: optuna.Study) -> bool:
    # NOTE: Optuna has no public way to stamp or fail another process's running trial, so this
    # module uses the study's storage and trial ids directly (cspsearch/compat.py), as Optuna's
    # own heartbeat code does.
    return isinstance(study_storage(study), optuna.storages.JournalStorage)


@contextmanager
def heartbeat(trial: optuna.Trial) -> Iterator[None]:
    """Stamp ``trial`` every HEARTBEAT_INTERVAL seconds until the block ends (Journal only)."""
    if not needs_own_heartbeat(trial.study):
        yield
        return
    stop = threading.Event()
    storage, own_id = study_storage(trial.study), trial_id(trial)

    def beat() -> None:
        while not stop.is_set():
            try:
                storage.set_trial_system_attr(own_id, STAMP, time.time())
            except (RuntimeError, ValueError):  # the trial finished meanwhile
                return
            stop.wait(HEARTBEAT_INTERVAL)

    thread = threading.Thread(target=beat, name="cspsearch-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def sweep_stale(study: optuna.Study) -> list[int]:
    """Fail the running trials of a Journal study whose heartbeat is older than the grace
    period, and enqueue their parameters again; returns the numbers of the trials failed."""
    if not needs_own_heartbeat(study):
        return []  # RDB storages: Optuna does this before each trial
    now, failed = time.time(), []
    storage = study_storage(study)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        last = t.system_attrs.get(STAMP, t.datetime_start.timestamp() if t.datetime_start else now)
        if now - last <= GRACE_PERIOD:
            continue
        try:
            storage.set_trial_user_attr(
                trial_id(t), "lost", f"no heartbeat for {now - last:.0f} s"
            )
            if not storage.set_trial_state_values(trial_id(t), TrialState.FAIL):
                continue  # another worker swept it first
        except (RuntimeError, ValueError):  # finished meanwhile, or swept by another worker
            continue
        # Its queued parameters (those not yet drawn too) and user attributes go with it, as
        # Optuna's retry does on RDB storages: an ablation's cell stays that cell (queued.py).
        params = {**t.system_attrs.get("fixed_params", {}), **t.params}
        retry = {**t.user_attrs, RETRY_OF: t.number}
        study.enqueue_trial(params, user_attrs=retry, skip_if_exists=False)
        failed.append(t.number)
    return failed
