"""Several worker processes on one study: forking or spawning them, sharing the trials, waiting
(torch only imported inside functions).

``cspsearch run --n-workers N`` creates or resumes the study and starts N local workers that
share the trials still to run (forked: one count they take from; spawned ``cspsearch worker``
processes: N exact quotas), so the study ends with exactly the requested number of counted
trials. ``cspsearch worker`` without a quota joins a study
from any machine and runs trials while the study holds fewer than its target (workers joining
at the same moment can each start one trial past it).
On a CPU the default is one single-threaded worker per core (``default_workers``): these
small networks scale badly with threads, so N processes of one thread train N times as many
trials as one process of N threads does nearly as fast. Local workers share the default SQLite
file (WAL and a 60-s busy timeout: measured, every trial kept and no "database is locked");
workers on several machines need PostgreSQL (or a Journal file on a shared disk).

Local CPU workers of one thread each are forked from the process that already imported torch
and loaded the dataset (``fork``), instead of starting ``cspsearch worker`` afresh: a new
interpreter spent ~4 s importing torch and scikit-learn (no longer imported: readers.py) and
reading the dataset before its first trial (measured 2026-11-29, 2 cores: a 16-trial study
started training 3.9 s after it began, and each worker's first trial took 2.3 s longer than
its others). Forked workers take
trials from one shared count, so a worker that drew cheap trials takes more of them and the
study does not wait on the slowest quota. Only single-threaded CPU workers are forked: a forked
child that uses OpenMP with more than one thread after its parent did hangs (GNU OpenMP), and
CUDA cannot be used in a child forked after CUDA started; those keep ``spawn``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from cspsearch.errors import StudyError

WORKER_ID = "CSPSEARCH_WORKER_ID"  # environment variable: this worker's index
LOCAL_WORKERS = "CSPSEARCH_LOCAL_WORKERS"  # environment variable: workers on this machine
N_WORKERS = "CSPSEARCH_N_WORKERS"  # environment variable: the default of --n-workers


def split(total: int, workers: int) -> list[int]:
    """``total`` trials as ``workers`` quotas differing by at most one."""
    return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]


def check_storage(storage: str | None, workers: int) -> str:
    """The storage URL the workers share: the one given or the default SQLite file, which
    local workers share safely (see the module docstring)."""
    from cspsearch.trials.study import DEFAULT_STORAGE

    if workers < 1:
        raise StudyError(f"--n-workers {workers}: give at least 1")
    return storage or DEFAULT_STORAGE


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(device: str, todo: int) -> int:
    """``--n-workers`` when not given: ``$CSPSEARCH_N_WORKERS`` if set; on a CPU one
    single-threaded worker per core (at most one per trial still to run); on a GPU 1."""
    fixed = os.environ.get(N_WORKERS)
    if fixed:
        if not fixed.isdigit() or int(fixed) < 1:
            raise StudyError(f"${N_WORKERS}={fixed!r}: give a whole number ≥ 1")
        return int(fixed)
    if device not in ("auto", "cpu"):
        return 1
    import torch

    if device == "auto" and torch.cuda.is_available():
        return 1
    return max(1, min(cores(), todo))


def spawn(args: Sequence[str], quotas: Sequence[int]) -> list[int]:
    """Run one ``cspsearch worker ARGS --quota Q`` per quota; return their exit codes.

    Ctrl-C reaches the workers (each marks its running trial failed and stops) and is waited for.
    """
    procs = []
    local = str(sum(1 for q in quotas if q))
    for i, quota in enumerate(quotas):
        if quota == 0:
            continue
        env = {**os.environ, WORKER_ID: str(i), LOCAL_WORKERS: local}
        cmd = [sys.executable, "-m", "cspsearch", "worker", *args, "--quota", str(quota)]
        procs.append(subprocess.Popen(cmd, env=env))
    try:
        return [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        return [p.wait() for p in procs]


def can_fork(device: str, workers: int) -> bool:
    """Whether ``workers`` local workers for ``device`` can be forked from this process (see
    the module docstring): Linux, the CPU, one thread each, CUDA not started here."""
    if sys.platform != "linux" or device not in ("auto", "cpu") or cores() // workers > 1:
        return False
    import torch

    if torch.cuda.is_initialized():
        return False
    return device == "cpu" or not torch.cuda.is_available()


Claim = Callable[[], bool]  # takes one trial of a shared count; False once none are left
Forked = Callable[[int, Claim], int]  # a forked worker: (its index, claim) → exit code


def fork(target: Forked, workers: int, trials: int) -> list[int]:
    """Run ``target`` in ``workers`` forked processes that share ``trials`` between them;
    return their exit codes (negative: killed by that signal), as ``spawn`` does."""
    context = multiprocessing.get_context("fork")
    left = context.Value("i", trials)

    def claim() -> bool:
        with left.get_lock():
            if left.value <= 0:
                return False
            left.value -= 1
            return True

    def child(index: int) -> None:
        os.environ.update({WORKER_ID: str(index), LOCAL_WORKERS: str(workers)})
        sys.exit(target(index, claim))

    procs = [context.Process(target=child, args=(i,)) for i in range(workers)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:  # as in spawn: the workers mark their trials failed and stop
        for p in procs:
            if p.is_alive():
                os.kill(p.pid, signal.SIGINT)
        for p in procs:
            p.join()
    return [p.exitcode if p.exitcode is not None else 1 for p in procs]


def cpu_threads() -> int | None:
    """Threads for one worker's CPU work when several workers share this machine (its cores
    divided among them, so K processes do not each run one thread per core); None when alone
    (torch's own default stands)."""
    local = int(os.environ.get(LOCAL_WORKERS, "1"))
    return max(1, cores() // local) if local > 1 else None


def describe_exit(index: int, code: int) -> str:
    if code < 0:
        return f"worker {index} was killed by signal {-code}; re-run the command to resume"
    return f"worker {index} exited with code {code}"


def worker_args(name: str, storage: str, seed: int | None, options: Any) -> list[str]:
    """The ``cspsearch worker`` arguments that run ``options`` (a RunOptions) on study ``name``."""
    args = ["--study", name, "--storage", storage, "--device", options.device]
    args += ["--artifacts", str(options.artifacts)]
    for flag, value in (
        ("--seed", seed),
        ("--timeout", options.timeout),
        ("--trial-timeout", options.trial_timeout),
    ):
        if value is not None:
            args += [flag, str(value)]
    args += ["--gradients"] if options.gradients else []
    args += [] if getattr(options, "cuda_graphs", True) else ["--no-cuda-graphs"]
    args += [] if options.keep_weights else ["--no-keep-weights"]
    return args + (["--early-stop"] if options.early_stop else [])


def choose_workers(n_workers: int | None, options: Any, todo: int) -> int:
    """Worker processes for ``todo`` trials: ``--n-workers``, or ``--trials-per-device`` K per
    device, else the default (one single-threaded worker per core on a CPU, 1 on a GPU).
    ``options``: a RunOptions; ``auto`` trials per device not yet resolved count as 1."""
    k = options.trials_per_device if isinstance(options.trials_per_device, int) else 1
    if n_workers is not None or k > 1:
        return workers_for(n_workers or 1, k, options.device)
    return default_workers(options.device, todo)


def workers_for(n_workers: int, trials_per_device: int, device: str) -> int:
    """Worker processes to start: ``--n-workers``, or ``--trials-per-device`` K per GPU (K on
    the CPU or one named device), so small models keep a GPU busy."""
    if trials_per_device <= 1:
        return n_workers
    if n_workers > 1:
        raise StudyError("--n-workers and --trials-per-device: give one of them, not both")
    return trials_per_device * gpu_count(device)


def gpu_count(device: str) -> int:
    """GPUs the workers spread over: every visible one for ``auto``/``cuda``, else 1."""
    if device not in ("auto", "cuda"):
        return 1
    import torch

    return max(1, torch.cuda.device_count())


def device_for(index: int, options: Any) -> Any:
    """With several GPUs and device auto (or cuda), worker i takes cuda:(i mod GPUs): with
    ``--trials-per-device K`` that is K workers on each GPU. ``options``: a RunOptions."""
    count = gpu_count(options.device)
    if count > 1:
        return replace(options, device=f"cuda:{index % count}")
    return options
