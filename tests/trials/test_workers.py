"""Several workers on one study, and workers that die: real processes, a real Journal file and a
real PostgreSQL server (slow: each run imports torch). Local CPU workers are forked (workers.fork):
its own tests come first and are fast."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest

from cspsearch.trials import workers
from cspsearch.trials.study import open_storage
from tests.conftest import TINY_SPACE
from tests.conftest import write_space

GRACE = "3"  # seconds without a heartbeat before a trial counts as lost


def cspsearch(*args: str, grace: str = GRACE) -> subprocess.Popen:
    env = {**os.environ, "CSPSEARCH_HEARTBEAT_GRACE": grace}
    return subprocess.Popen(
        [sys.executable, "-m", "cspsearch", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A process started in the background by a non-interactive shell (a CI script's `&`)
        # inherits SIGINT ignored, and Python then never raises KeyboardInterrupt: give the
        # child the terminal's default, as a user's Ctrl-C would find it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def trials(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=open_storage(storage)).trials


@pytest.fixture(params=["journal", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "journal":
        return str(tmp_path / "study.log")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["journal", "postgres", "sqlite"])
def shared_storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":  # local workers share SQLite (WAL, 60-s busy timeout)
        return f"sqlite:///{tmp_path / 'study.db'}"
    if request.param == "journal":
        return str(tmp_path / "study.log")
    return request.getfixturevalue("postgres_url")


def test_forked_workers_share_the_count_exactly(tmp_path: Path) -> None:
    def target(index: int, claim: workers.Claim) -> int:
        taken = 0
        while claim():
            taken += 1
            time.sleep(0.01 * (index + 1))  # unequal trials: the quicker worker takes more
        (tmp_path / str(index)).write_text(f"{taken} {os.environ[workers.WORKER_ID]}")
        return 0

    assert workers.fork(target, 3, 40) == [0, 0, 0]
    taken = [(tmp_path / str(i)).read_text().split() for i in range(3)]
    assert sum(int(n) for n, _ in taken) == 40 and [i for _, i in taken] == ["0", "1", "2"]
    assert int(taken[0][0]) > int(taken[2][0])


def test_forked_workers_report_their_exit_codes() -> None:
    def target(index: int, claim: workers.Claim) -> int:
        if index == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return 2 * index

    assert workers.fork(target, 3, 1) == [0, -signal.SIGKILL, 4]


def test_only_single_threaded_cpu_workers_are_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers, "cores", lambda: 4)
    assert workers.can_fork("cpu", 4) and workers.can_fork("cpu", 6)
    assert not workers.can_fork("cpu", 2)  # two threads each: a forked child would hang
    assert not workers.can_fork("cuda", 4) and not workers.can_fork("cuda:1", 4)


@pytest.mark.slow
def test_four_workers_make_exactly_twenty_trials(
    shared_storage: str, tiny_space_file: Path
) -> None:
    storage = shared_storage
    run = cspsearch(
        "run",
        "--space",
        str(tiny_space_file),
        "--storage",
        storage,
        "--n-workers",
        "4",
        "--n-trials",
        "20",
    )
    output = run.communicate(timeout=300)[0]
    assert run.returncode == 0, output
    assert Counter(t.state.name for t in trials(storage, "tiny")) == {"COMPLETE": 20}
    assert "Traceback" not in output and "locked" not in output
    assert all(f"[worker {i}] trial" in output for i in range(4))


@pytest.mark.slow
def test_default_is_one_worker_per_core_on_the_default_sqlite(
    tiny_space_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CSPSEARCH_N_WORKERS")  # conftest pins 1 for the other tests
    run = cspsearch("run", "--space", str(tiny_space_file), "--n-trials", "6")
    output = run.communicate(timeout=300)[0]
    assert run.returncode == 0, output
    storage = f"sqlite:///{tmp_path / 'reports' / 'cspsearch.db'}"
    done = trials(storage, "tiny")
    assert Counter(t.state.name for t in done) == {"COMPLETE": 6}, output
    workers = {t.user_attrs["worker"] for t in done}
    assert len(workers) == min(len(os.sched_getaffinity(0)), 6), output
    assert "Traceback" not in output and "locked" not in output


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_for_running(storage: str, name: str, timeout: float = 120) -> optuna.trial.FrozenTrial:
    """The first trial seen training: running, its worker recorded, its architecture drawn."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            for t in trials(storage, name):
                if t.state.name == "RUNNING" and "worker" in t.user_attrs and "fusion" in t.params:
                    time.sleep(1.0)  # a conditional split_ratio may follow the fusion
                    return trials(storage, name)[t.number]
        except KeyError:  # the study is not created yet
            pass
        time.sleep(0.3)
    pytest.fail("no trial started")


@pytest.mark.slow
def test_killed_worker_is_recovered_and_its_trial_retried(storage: str, tmp_path: Path) -> None:
    space = write_space(tmp_path, TINY_SPACE.replace("epochs: 1", "epochs: 40"), "slow")
    args = (
        "run",
        "--space",
        str(space),
        "--storage",
        storage,
        "--n-workers",
        "2",
        "--n-trials",
        "4",
    )
    parent = cspsearch(*args)
    running = wait_for_running(storage, "slow")
    victim = int(running.user_attrs["worker"].rsplit(":", 1)[1])
    assert victim in children(parent.pid)
    forked = b"\0worker\0" not in Path(f"/proc/{victim}/cmdline").read_bytes()  # `run` forked
    assert forked == workers.can_fork("auto", 2)
    os.kill(victim, signal.SIGKILL)  # mid-trial: no chance to clean up
    output = parent.communicate(timeout=300)[0]
    assert parent.returncode == 1 and "killed by signal 9" in output
    time.sleep(int(GRACE) + 2)
    again = cspsearch(*args)  # the same command resumes the study
    output = again.communicate(timeout=300)[0]
    assert again.returncode == 0, output
    final = trials(storage, "slow")
    assert Counter(t.state.name for t in final) == {"COMPLETE": 4, "FAIL": 1}, output
    killed = final[running.number]
    assert killed.state.name == "FAIL" and "fail_reason" not in killed.user_attrs
    # Its parameters were tried again and completed.
    retry = [
        t
        for t in final
        if t.user_attrs.get("retry_of") == killed.number
        or optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(t)
        == killed.number
    ]
    assert len(retry) == 1 and retry[0].params == killed.params
    assert retry[0].state.name == "COMPLETE"


@pytest.mark.slow
def test_ctrl_c_marks_the_running_trial_failed(tmp_path: Path) -> None:
    space = write_space(tmp_path, TINY_SPACE.replace("epochs: 1", "epochs: 400"), "slow")
    storage = str(tmp_path / "study.log")
    run = cspsearch("run", "--space", str(space), "--storage", storage, "--n-trials", "3")
    wait_for_running(storage, "slow")
    run.send_signal(signal.SIGINT)
    output = run.communicate(timeout=120)[0]
    # 130, or death by SIGINT (-2), which a shell also reports as 130. NOTE: -2 was seen twice,
    # only in clean-clone runs, after our handler had printed its line and marked the trial.
    assert run.returncode in (130, -signal.SIGINT), output
    assert "interrupted" in output and "Traceback" not in output
    final = trials(storage, "slow")
    assert [t.state.name for t in final] == ["FAIL"] and final[0].user_attrs["interrupted"]
