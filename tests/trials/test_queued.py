"""Studies whose owner queues the trials (cspsearch/trials/queued.py): workers claim only waiting
trials and never sample, a joined worker follows its owner and stops when it is done or gone,
and a lost trial's retry is still its cell. Fast: real storages, stand-in objectives. The
end-to-end test with real processes (one ``ablate``, two ``worker``) is at the bottom (slow)."""

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
from optuna.trial import TrialState

from cspsearch.compat import study_storage
from cspsearch.compat import trial_id
from cspsearch.trials import queued
from cspsearch.trials import recovery
from cspsearch.trials.study import open_storage

CELL = {"ablation_base": "b", "ablation_variant": "none"}


@pytest.fixture(params=["journal", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "journal":
        return str(tmp_path / "study.log")
    return request.getfixturevalue("postgres_url")


def _study(url: str, cells: int) -> optuna.Study:
    study = optuna.create_study(study_name="s-ablation", storage=open_storage(url))
    for seed in range(cells):
        study.enqueue_trial({"x": float(seed)}, user_attrs={**CELL, "ablation_seed": seed})
    return study


def _objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0.0, 10.0)


def test_workers_run_the_waiting_trials_and_never_sample_one(tmp_path: Path) -> None:
    study = _study(str(tmp_path / "s.log"), 3)
    seen: list[int] = []
    ran = queued.run_queued(study, _objective, None, [lambda s, t: seen.append(t.number)])
    assert ran == 3 and seen == [0, 1, 2]
    assert queued.run_queued(study, _objective, None) == 0  # nothing waits: nothing is made
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3
    assert [t.user_attrs["ablation_seed"] for t in trials] == [0, 1, 2]
    assert [t.value for t in trials] == [0.0, 1.0, 2.0]


def test_a_claimed_trial_is_nobody_elses(storage: str) -> None:
    study = _study(storage, 2)
    other = optuna.load_study(study_name="s-ablation", storage=open_storage(storage))
    first, second = queued.claim(study), queued.claim(other)
    assert first is not None and second is not None and first.number != second.number
    assert queued.claim(study) is None and len(study.trials) == 2


def test_a_failing_trial_is_failed_and_the_next_one_runs(tmp_path: Path) -> None:
    study = _study(str(tmp_path / "s.log"), 2)

    def fails_first(trial: optuna.Trial) -> float:
        if trial.number == 0:
            raise RuntimeError("diverged")
        return _objective(trial)

    assert queued.run_queued(study, fails_first, None, catch=(RuntimeError,)) == 2
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]
    study.enqueue_trial({"x": 1.0}, user_attrs=CELL)
    with pytest.raises(ValueError):  # not a caught error: failed, then raised
        queued.run_queued(study, lambda t: float("x" + str(t.number)), None)
    assert study.trials[-1].state == TrialState.FAIL


def test_a_trial_failed_as_stale_meanwhile_stays_failed(tmp_path: Path) -> None:
    study = _study(str(tmp_path / "s.log"), 2)

    def swept(trial: optuna.Trial) -> float:  # another worker's sweep fails it meanwhile
        value = _objective(trial)
        if trial.number == 0:
            study_storage(study).set_trial_state_values(trial_id(trial), TrialState.FAIL)
        return value

    assert queued.run_queued(study, swept, None) == 2  # the worker goes on
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]


def test_a_joined_worker_stops_when_the_owner_is_done_or_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(str(tmp_path / "s.log"), 1)
    monkeypatch.setattr(queued, "POLL", 0.05)
    owner = queued.Owner(study, gradients=True)
    assert owner.next_round() == 1
    rounds: list[int] = []

    def run(left: float | None) -> int:
        rounds.append(queued.run_queued(study, _objective, left))
        if len(rounds) == 3:  # the owner queues a second round, then ends
            study.enqueue_trial({"x": 5.0}, user_attrs=CELL)
        if len(rounds) == 6:
            owner.close()
        return rounds[-1]

    assert queued.follow(study, run, timeout=30) == "the owner is done (round 1)"
    assert rounds[0] == 1 and rounds[3] == 1 and sum(rounds) == 2
    assert queued.shared(study.user_attrs) == {"gradients": True}
    # An owner that stopped renewing its stamp (killed): the worker does not wait for ever.
    study.set_user_attr(queued.QUEUE, {"state": "running", "round": 1, "stamp": 0.0})
    assert queued.follow(study, lambda left: 0, timeout=30).startswith("the owner stopped")
    study.set_user_attr(queued.QUEUE, {"state": "running", "round": 1, "stamp": 2e9})
    start = time.monotonic()
    assert queued.follow(study, lambda left: 0, timeout=0.3) == "--timeout 0.3 s"
    assert time.monotonic() - start < 5


def test_a_lost_cell_is_retried_as_that_cell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = _study(str(tmp_path / "s.log"), 1)
    lost = queued.claim(study)  # its worker dies before drawing x
    assert lost is not None
    storage = study_storage(study)
    storage.set_trial_system_attr(trial_id(lost), recovery.STAMP, time.time() - 1000)
    monkeypatch.setattr(queued, "POLL", 0.05)
    assert queued.settle(study) == 1  # failed as stale; its retry waits
    assert queued.run_queued(study, _objective, None) == 1
    retry = study.trials[-1]
    assert retry.state == TrialState.COMPLETE and retry.params == {"x": 0.0}
    assert retry.user_attrs["ablation_seed"] == 0 and retry.user_attrs["retry_of"] == 0
    assert queued.settle(study) == 0


SPACE = """
model: {num_stages: 2, stem_width: 8, growth_rate: 4, depth: 1, split_ratio: 0.5, fusion: none}
train: {epochs: 1, batch_size: 128, precise_bn: 128}
data: {input_size: 8}
objectives: {val_accuracy: maximize, macs: minimize}
"""


def _start(*args: str, niceness: int = 0) -> subprocess.Popen:
    # One thread each: three processes share the machine's cores (and OpenMP threads that
    # outnumber the cores spin for ages).
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("CSPSEARCH_HEARTBEAT_GRACE", None)  # the default: nothing dies here
    return subprocess.Popen(
        [sys.executable, "-m", "cspsearch", *args], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, preexec_fn=lambda: os.nice(niceness),
    )  # fmt: skip


@pytest.mark.slow
def test_one_ablation_and_two_joined_workers_run_every_cell_once(
    storage: str, tmp_path: Path
) -> None:
    (tmp_path / "base.yaml").write_text(SPACE, encoding="utf-8")
    # The ablation at the lowest priority: on an idle machine it could run every cell before
    # the workers have imported torch, and the test would then show nothing.
    owner = _start(
        "ablate", "--space", str(tmp_path / "base.yaml"), "--storage", storage, "--device",
        "cpu", "--fusion", "last,full", "--split-ratio", "0.5", "--seeds", "auto",
        "--min-seeds", "2", "--max-seeds", "3", "--n-workers", "1", "--no-gradients",
        niceness=19,
    )  # fmt: skip
    procs = [owner]
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and owner.poll() is None:
            try:
                opened = open_storage(storage, must_exist=True)
                if (
                    queued.QUEUE
                    in optuna.load_study(study_name="base-ablation", storage=opened).user_attrs
                ):
                    break
            except Exception:  # no storage or study yet
                pass
            time.sleep(0.2)
        args = ("worker", "--study", "base-ablation", "--storage", storage, "--device", "cpu")
        procs += [_start(*args), _start(*args)]
        end = time.monotonic() + 300  # never hangs: past this the test fails, all killed
        outputs = [p.communicate(timeout=max(1.0, end - time.monotonic()))[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert all("stopped: the owner is done" in o for o in outputs[1:]), outputs[1:]
    opened = open_storage(storage, must_exist=True)
    study = optuna.load_study(study_name="base-ablation", storage=opened)
    trials = study.get_trials()
    assert all("ablation_variant" in t.user_attrs for t in trials)
    assert Counter(t.state.name for t in trials) == {"COMPLETE": len(trials)}
    cells = Counter(
        (t.user_attrs["ablation_variant"], t.user_attrs["ablation_seed"]) for t in trials
    )
    assert set(cells.values()) == {1}  # every cell once
    variants = {v for v, _ in cells}
    assert variants == {"none", "last/0.5", "full/0.5"}
    assert all((v, s) in cells for v in variants for s in (0, 1))  # round 1 whole
    owner_pid = f":{owner.pid}"
    by_workers = [t for t in trials if not t.user_attrs["worker"].endswith(owner_pid)]
    assert by_workers, "the joined workers ran no cell"
    assert study.user_attrs[queued.QUEUE]["state"] == "done"
