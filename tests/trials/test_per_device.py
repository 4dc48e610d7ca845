"""``--trials-per-device N|auto``: the value parsed, K decided from a given probe result (no
GPU needed), a failed probe turned into K = 1, and the probe itself where CUDA is."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cspsearch.errors import StudyError
from cspsearch.space.loader import load_space
from cspsearch.training.probe import Probe
from cspsearch.trials.execute import RunOptions
from cspsearch.trials.per_device import _probe
from cspsearch.trials.per_device import decide
from cspsearch.trials.per_device import parse_trials_per_device
from cspsearch.trials.per_device import resolve

GIB = 1 << 30


def test_parse_takes_auto_or_a_whole_number() -> None:
    assert parse_trials_per_device("auto") == "auto"
    assert parse_trials_per_device("4") == 4
    for bad in ("0", "-1", "1.5", "two", "Auto", ""):
        with pytest.raises(StudyError, match="must be a whole number ≥ 1, or auto"):
            parse_trials_per_device(bad)


def test_a_number_or_the_cpu_or_n_workers_keep_todays_behaviour() -> None:
    probe = Probe(0.1, GIB, 100 * GIB, 1)
    assert decide(3, "cuda:0", None, probe, 16) == (3, "given")
    assert decide(3, "cpu", None, None, 16) == (3, "given")
    assert decide("auto", "cpu", None, None, 16)[0] == 1
    assert decide("auto", "cuda:0", 2, probe, 16) == (1, "auto: --n-workers decides")


def test_auto_on_cuda_takes_the_rule_on_the_probe_and_says_why() -> None:
    k, why = decide("auto", "cuda:0", None, Probe(0.27, int(1.2 * GIB), 100 * GIB, 1), 16)
    assert k == 4 and why == "auto: GPU busy 27% in a probe, 1.20 GiB a trial"  # ⌈1 / 0.27⌉
    k, why = decide("auto", "cuda", None, Probe(0.05, GIB, 100 * GIB, 1), 16)
    assert k == 16 and why.endswith("capped by 16 CPU cores")
    k, why = decide("auto", "cuda", None, Probe(0.05, GIB, 100 * GIB, 2), 16)
    assert k == 8 and why.endswith("capped by 16 CPU cores")  # shared by two GPUs
    k, why = decide("auto", "cuda", None, Probe(0.05, 2 * GIB, 10 * GIB, 1), 16)
    assert k == 4 and why.endswith("capped by 10 GiB free")  # 80% of 10 GiB at 2 GiB each
    k, why = decide("auto", "cuda", None, "RuntimeError: out of memory", 16)
    assert (k, why) == (1, "auto: the probe failed: RuntimeError: out of memory")


def test_resolve_on_the_cpu_gives_k_and_its_line_and_probes_nothing(tiny_space_file: Path) -> None:
    space = load_space(tiny_space_file)
    options, line = resolve(RunOptions(device="cpu"), space, None)
    assert options.trials_per_device == 1
    assert line == "trials per device: 1 (auto on the CPU: the worker count decides)"
    given, line = resolve(RunOptions(device="cpu", trials_per_device=2), space, 3)
    assert given.trials_per_device == 2 and line == "trials per device: 2 (given)"


def test_a_failed_probe_is_a_line_not_an_error(tiny_space_file: Path) -> None:
    failed = _probe(load_space(tiny_space_file), "cpu", RunOptions(device="cpu"))
    assert failed == "ValueError: the probe needs a CUDA device, not cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the probe trains on a CUDA GPU")
def test_the_probe_measures_a_trial_on_the_gpu(tiny_space_file: Path) -> None:
    from cspsearch.training.probe import probe_trial

    probe = probe_trial(load_space(tiny_space_file), "cuda", 1)
    assert 0 < probe.busy_fraction <= 1
    assert 0 < probe.trial_bytes < probe.free_bytes


def test_the_probed_step_is_a_trial_step_of_the_space(tiny_space_file: Path) -> None:
    """What the probe times, run on the CPU: the space's first network learns from its batch."""
    from cspsearch.training.probe import trial_step

    with trial_step(load_space(tiny_space_file), "cpu", cuda_graphs=True) as step:
        losses = [float(step()) for _ in range(5)]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
