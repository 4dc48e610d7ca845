"""Studies: open (or resume) the Optuna study of a space and run trials (samplers.py names the
sampler).

Storage: an Optuna RDB URL (``sqlite:///…``, ``postgresql://…``) or a plain file path, which
means an Optuna Journal file; by default ``sqlite:///reports/cspsearch.db`` under the working
folder, one database holding every study, which optuna-dashboard and the ``optuna`` CLI read.
``n_trials`` is the number of counted trials the study should hold (recovery.py says which
count), so re-running the same command resumes an interrupted study instead of starting over.
Whether a study stops trials early (``--early-stop``) is part of its default name, its
fingerprint and its stored attributes: a run with the other setting never resumes it, so
full-length and partial results never mix in one study.
"""

from __future__ import annotations

import atexit
import time
import warnings
import weakref
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from cspsearch.errors import CspSearchError
from cspsearch.errors import StudyError
from cspsearch.space.searchspace import SearchSpace
from cspsearch.trials.recovery import counted_trials
from cspsearch.trials.recovery import rdb_heartbeat
from cspsearch.trials.recovery import sweep_stale

DEFAULT_STORAGE = "sqlite:///reports/cspsearch.db"
CATCH = (CspSearchError, RuntimeError, MemoryError)  # trial-level faults: FAIL, study goes on


def open_storage(storage: str | None, must_exist: bool = False) -> optuna.storages.BaseStorage:
    """The storage ``storage`` names (see the module docstring); StudyError if it cannot open.

    With ``must_exist`` (reading a study) a missing database file is an error, not created.
    """
    url = storage or DEFAULT_STORAGE
    path = _file_of(url)
    if must_exist and path is not None and not path.is_file():
        raise StudyError(f"no study storage at {path} (give the one the study used: --storage)")
    if path is not None and not must_exist:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if "://" not in url:
            from optuna.storages.journal import JournalFileBackend

            return optuna.storages.JournalStorage(JournalFileBackend(url))
        with warnings.catch_warnings():  # Optuna marks its heartbeat arguments experimental
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if url.startswith("sqlite"):
                return _sqlite(url)
            return optuna.storages.RDBStorage(url, **rdb_heartbeat())
    except Exception as exc:  # sqlalchemy, driver and file errors all mean "cannot open"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StudyError(f"cannot open storage {url!r}: {reason}") from None


def _sqlite(url: str) -> optuna.storages.RDBStorage:
    """SQLite with a busy timeout and WAL journaling, so a reader (optuna-dashboard, a report)
    and the writing study wait for each other instead of failing with "database is locked"
    (optuna-dashboard issue #545: a dashboard on a live SQLite file crashed the study)."""
    storage = optuna.storages.RDBStorage(
        url, engine_kwargs={"connect_args": {"timeout": 60}}, **rdb_heartbeat()
    )
    with storage.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")  # kept in the file from now on
    _immediate_transactions(storage.engine)
    _close_at_exit(storage.engine)
    return storage


def _close_at_exit(engine: Any) -> None:
    """Close the engine's connections at exit: closing the last one folds SQLite's WAL into the
    .db file, which then alone holds the study. The CLI ends without the interpreter's teardown
    that would close them (cli/__init__.py); a weak reference, so tests' storages still close."""
    ref = weakref.ref(engine)

    def close() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose()

    atexit.register(close)


def _immediate_transactions(engine: Any) -> None:
    """Every transaction takes SQLite's write lock when it begins (SQLAlchemy's recipe for
    pysqlite), so a read-then-write such as Optuna taking an enqueued trial is atomic: with
    pysqlite's default, two workers both took the enqueued baseline and one then failed with
    "Cannot tell a COMPLETE trial" (seen with the default local workers)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite: no BEGIN of its own

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # pooled connections were opened before the listeners


def _file_of(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///"))
    return None if "://" in url else Path(url)


def default_study_name(
    space_name: str, overrides: dict[str, object], early_stop: bool = False
) -> str:
    """The space name plus the training overrides (and ``-earlystop`` for a run that stops
    trials early): ``csp_densenet-epochs1-seed3-earlystop``."""
    name = space_name + "".join(f"-{k}{v}" for k, v in overrides.items())
    return name + ("-earlystop" if early_stop else "")


def study_fingerprint(space: SearchSpace, early_stop: bool = False, graphs: bool = False) -> str:
    """The space's fingerprint, marked when the study stops trials early and when its steps
    run as CUDA graphs (cspsearch/training/graphs.py)."""
    marks = ("+earlystop" if early_stop else "") + ("+cudagraphs" if graphs else "")
    return space.fingerprint() + marks


def check_early_stop(name: str, attrs: dict[str, Any], early_stop: bool) -> None:
    """StudyError when study ``name`` (user attributes ``attrs``) was made with the other
    early-stopping setting (one made before the setting was recorded trained to the end)."""
    stored = bool(attrs.get("early_stop", False))
    if stored != early_stop:
        made = "with --early-stop" if stored else "without --early-stop"
        raise StudyError(
            f"study {name!r} was made {made}: its trials "
            f"{'may stop early' if stored else 'train to the end'}, so it cannot be resumed "
            f"{'without' if stored else 'with'} it (a mix of partial and full-length results); "
            "run with the same setting or choose a new --study-name"
        )


def open_study(
    space: SearchSpace,
    storage: optuna.storages.BaseStorage,
    study_name: str,
    sampler: optuna.samplers.BaseSampler,
    early_stop: bool = False,
    graphs: bool = False,
) -> optuna.Study:
    """Resume study ``study_name`` if it exists (it must come from the same space and early-
    stopping setting), else create it with the space's objectives as metric names and the
    space and ``early_stop`` stored as study attributes."""
    directions = list(space.objectives.values())
    try:
        study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    except KeyError:
        study = None
    if study is not None:
        check_early_stop(study_name, study.user_attrs, early_stop)
        found, wanted = (
            study.user_attrs.get("space_fingerprint"),
            study_fingerprint(space, early_stop, graphs),
        )
        if found != wanted:
            raise StudyError(
                f"study {study_name!r} was made from a different space or settings (fingerprint "
                f"{found} ≠ {wanted}); choose a new --study-name"
            )
        return study
    study = optuna.create_study(
        storage=storage, study_name=study_name, sampler=sampler, directions=directions
    )
    study.set_metric_names(list(space.objectives))
    study.set_user_attr("space_name", space.name)
    study.set_user_attr("space", space.to_dict())
    study.set_user_attr("space_fingerprint", study_fingerprint(space, early_stop, graphs))
    study.set_user_attr("early_stop", early_stop)
    return study


def run_study(
    study: optuna.Study,
    objective: Callable,
    n_trials: int,
    timeout: float | None,
    callbacks: Sequence[Callable] = (),
    quota: int | None = None,
) -> int:
    """Run trials until the study counts ``n_trials`` (or exactly ``quota`` trials, when a
    parent process split the work; or until ``timeout`` seconds pass); returns how many ran.
    A trial raising a cspsearch, runtime or memory error is recorded failed; the study goes on."""
    to_run = quota if quota is not None else n_trials - counted_trials(study)
    if to_run <= 0:
        return 0
    before = len(study.trials)
    sweep_stale(study)  # Journal: a lost trial's retry waits, drawn before fresh parameters
    if quota is None:  # a quota is a share of a target its parent recorded (execute.py)
        study.set_user_attr("n_trials", n_trials)  # what joining workers aim for
    study.optimize(
        objective, n_trials=to_run, timeout=timeout, catch=CATCH, callbacks=list(callbacks)
    )
    return len(study.trials) - before


def run_claimed(
    study: optuna.Study,
    objective: Callable,
    claim: Callable[[], bool],
    timeout: float | None,
    callbacks: Sequence[Callable] = (),
) -> int:
    """Run trials, one at a time, while ``claim()`` grants one (a forked worker's share of its
    parent's count, workers.fork; room under the study's target, join_study) and ``timeout``
    seconds have not passed; returns how many ran."""
    start, ran = time.monotonic(), 0
    while timeout is None or time.monotonic() - start < timeout:
        sweep_stale(study)  # before claiming: a lost trial neither runs nor holds a place
        if not claim():
            break
        study.optimize(objective, n_trials=1, catch=CATCH, callbacks=list(callbacks))
        ran += 1
    return ran


def join_study(
    study: optuna.Study,
    objective: Callable,
    timeout: float | None,
    callbacks: Sequence[Callable] = (),
) -> int:
    """Run trials, one at a time, while the study holds fewer than its target (set by
    ``run_study``) counted or running trials; returns how many ran."""
    target = int(study.user_attrs.get("n_trials", 0))

    def below_target() -> bool:
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        return counted_trials(study) + running < target

    return run_claimed(study, objective, below_target, timeout, callbacks)


def list_studies(storage: optuna.storages.BaseStorage) -> list[str]:
    return [
        s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    ]
