"""Several worker processes on one study: quotas, spawning and waiting (no torch here).

``cspsearch run --n-workers N`` creates or resumes the study, splits the trials still to run
into N exact quotas and starts N ``cspsearch worker`` processes, so the study ends with exactly
the requested number of counted trials. ``cspsearch worker`` without a quota joins a study
from any machine and runs trials while the study holds fewer than its target (workers joining
at the same moment can each start one trial past it).
SQLite takes one writer at a time: several workers need a Journal file (one machine) or
PostgreSQL (several machines).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from cspsearch.errors import StudyError

WORKER_ID = "CSPSEARCH_WORKER_ID"  # environment variable: this worker's index
LOCAL_WORKERS = "CSPSEARCH_LOCAL_WORKERS"  # environment variable: workers on this machine


def split(total: int, workers: int) -> list[int]:
    """``total`` trials as ``workers`` quotas differing by at most one."""
    return [total // workers + (1 if i < total % workers else 0) for i in range(workers)]


def check_storage(storage: str | None, workers: int) -> str:
    """The storage URL several workers can share; StudyError for SQLite or the default."""
    if workers > 1 and (storage is None or storage.startswith("sqlite")):
        raise StudyError(
            f"--storage {storage or 'sqlite:///reports/cspsearch.db (default)'}: SQLite takes one "
            f"writer, not {workers}; give a Journal file (--storage reports/cspsearch.log) or "
            "PostgreSQL (--storage postgresql://…)"
        )
    return storage or ""


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


def cpu_threads() -> int | None:
    """Threads for one worker's CPU work when several workers share this machine (its cores
    divided among them, so K processes do not each run one thread per core); None when alone
    (torch's own default stands)."""
    local = int(os.environ.get(LOCAL_WORKERS, "1"))
    return max(1, (os.cpu_count() or 1) // local) if local > 1 else None


def describe_exit(index: int, code: int) -> str:
    if code < 0:
        return f"worker {index} was killed by signal {-code}; re-run the command to resume"
    return f"worker {index} exited with code {code}"
