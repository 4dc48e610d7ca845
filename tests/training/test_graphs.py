"""The captured training step (cspsearch/training/graphs.py): on the CPU, where graphs do not
exist, what decides and records it (the reason, the fallback that never fails a trial, the
learning rate written in place); on CUDA, 20 graphed steps equal 20 eager ones."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

from cspsearch.space.configs import TrainConfig
from cspsearch.training.graphs import EagerStep
from cspsearch.training.graphs import GraphedStep
from cspsearch.training.graphs import graph_reason
from cspsearch.training.graphs import make_step
from cspsearch.training.graphs import set_lr
from cspsearch.training.loop import lr_factor
from cspsearch.training.loop import make_optimizer


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5),
    )  # fmt: skip


def _batches(device: str, n: int = 20, size: int = 16, last: int = 5):
    g = torch.Generator().manual_seed(1)
    out = []
    for i in range(n):
        b = last if i == n - 1 else size  # the epoch's partial last batch
        out.append((torch.randn(b, 3, 8, 8, generator=g).to(device),
                    torch.randint(0, 5, (b,), generator=g).to(device)))  # fmt: skip
    return out


def _train(model: nn.Module, device: str, graphs: bool) -> tuple[EagerStep, list[float]]:
    cfg = TrainConfig(lr=3e-3)
    optimizer = make_optimizer(model, cfg, torch.device(device), graphed=graphs)
    step = make_step(
        model, nn.functional.cross_entropy, optimizer, "fp32", torch.device(device), graphs
    )
    losses = []
    for k, (x, y) in enumerate(_batches(device)):
        set_lr(optimizer, cfg.lr * lr_factor(k, 20, 0.1))
        losses.append(float(step(x, y)))
    return step, losses


def test_the_reason_a_step_is_not_captured() -> None:
    assert graph_reason("cpu", True) == "CUDA graphs exist on CUDA devices only"
    assert graph_reason("cuda", False) == "off (--no-cuda-graphs)"
    assert graph_reason("cpu", False) == "off (--no-cuda-graphs)"
    step = make_step(
        _net(),
        nn.functional.cross_entropy,
        make_optimizer(_net(), TrainConfig(), torch.device("cpu")),
        "fp32",
        torch.device("cpu"),
        True,
    )
    assert type(step) is EagerStep and not step.graphed and "CUDA" in step.reason


def test_set_lr_writes_the_device_tensor_in_place() -> None:
    p = nn.Parameter(torch.zeros(2))
    tensor_lr = torch.optim.AdamW([p], lr=torch.tensor(0.1))
    held = tensor_lr.param_groups[0]["lr"]
    set_lr(tensor_lr, 0.25)
    assert tensor_lr.param_groups[0]["lr"] is held and float(held) == 0.25
    float_lr = torch.optim.AdamW([p], lr=0.1)
    set_lr(float_lr, 0.25)
    assert float_lr.param_groups[0]["lr"] == 0.25


def test_a_capture_that_fails_falls_back_to_the_eager_step_and_trains_the_same() -> None:
    """On the CPU the capture itself fails (no CUDA streams): the step warns once in one line,
    undoes anything the attempt changed and trains exactly as the eager step."""
    eager_model, graphed_model = _net(), _net()
    _, want = _train(eager_model, "cpu", graphs=False)
    cfg = TrainConfig(lr=3e-3)
    optimizer = make_optimizer(graphed_model, cfg, torch.device("cpu"))
    step = GraphedStep(graphed_model, nn.functional.cross_entropy, optimizer, "fp32")
    got = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k, (x, y) in enumerate(_batches("cpu")):
            set_lr(optimizer, cfg.lr * lr_factor(k, 20, 0.1))
            got.append(float(step(x, y)))
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1 and "\n" not in messages[0] and "eager" in messages[0]
    assert not step.graphed and step.reason.startswith("capture failed: ")
    assert got == want
    for a, b in zip(eager_model.state_dict().values(), graphed_model.state_dict().values()):
        assert torch.equal(a, b)


def test_fit_on_the_cpu_records_that_it_ran_eagerly() -> None:
    from cspsearch.training.loop import TaskHooks
    from cspsearch.training.loop import fit

    model = _net()
    data = _batches("cpu", n=4, last=16)
    x = torch.cat([b[0] for b in data])
    y = torch.cat([b[1] for b in data])
    hooks = TaskHooks(
        x, lambda idx, g: (x[idx], y[idx]), nn.functional.cross_entropy,
        lambda net, split, precision: {"accuracy": 0.0}, "accuracy",
    )  # fmt: skip
    result = fit(
        model,
        hooks,
        TrainConfig(epochs=1, batch_size=16, precise_bn=0, precision="fp32"),
        cuda_graphs=True,
    )
    assert result.graphed is False and result.graph_reason == graph_reason("cpu", True)


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device; this machine has none"
)
def test_twenty_graphed_steps_equal_twenty_eager_ones_on_cuda() -> None:
    eager_model, graphed_model = _net().cuda(), copy.deepcopy(_net()).cuda()
    _, want = _train(eager_model, "cuda", graphs=False)
    step, got = _train(graphed_model, "cuda", graphs=True)
    assert step.graphed, step.reason
    torch.testing.assert_close(torch.tensor(got), torch.tensor(want), rtol=1e-4, atol=1e-6)
    for a, b in zip(eager_model.state_dict().values(), graphed_model.state_dict().values()):
        torch.testing.assert_close(a.float(), b.float(), rtol=1e-4, atol=1e-6)


def test_a_trial_records_whether_it_ran_graphed() -> None:
    from types import SimpleNamespace

    from cspsearch.training.graphs import graph_attrs

    ran = SimpleNamespace(graphed=True, graph_reason=None)
    failed = SimpleNamespace(graphed=False, graph_reason="capture failed: X: y")
    assert graph_attrs([ran, ran], "cuda") == {"cuda_graphs": True}
    assert graph_attrs([ran, failed], "cuda:1") == {
        "cuda_graphs": False, "cuda_graphs_reason": "capture failed: X: y"
    }  # fmt: skip
    assert graph_attrs([failed], "cpu") == {"cuda_graphs": False}


def test_the_flag_reaches_workers_and_the_fingerprint(tmp_path) -> None:
    from cspsearch.space.loader import load_space
    from cspsearch.trials.execute import RunOptions
    from cspsearch.trials.rules import graphs_used
    from cspsearch.trials.study import study_fingerprint
    from cspsearch.trials.workers import worker_args

    assert RunOptions().cuda_graphs is True  # on by default (used where the device is CUDA)
    assert not graphs_used(RunOptions(device="cpu"))
    assert graphs_used(RunOptions(device="cuda")) and not graphs_used(
        RunOptions(device="cuda", cuda_graphs=False)
    )
    off = RunOptions(device="cuda", cuda_graphs=False)
    assert "--no-cuda-graphs" in worker_args("s", "j.log", None, off)
    assert "--no-cuda-graphs" not in worker_args("s", "j.log", None, RunOptions(device="cuda"))
    space = load_space("csp_densenet")
    assert study_fingerprint(space, False, True) == study_fingerprint(space) + "+cudagraphs"


def test_auto_trials_per_device_fills_the_gpu_within_cores_and_memory() -> None:
    from cspsearch.training.device import auto_trials_per_device as auto

    gib = 1 << 30
    assert auto(16, 1, 100 * gib, gib, busy_fraction=0.09) == 12  # ⌈1 / 0.09⌉: fill the GPU
    assert auto(8, 1, 100 * gib, gib, busy_fraction=0.09) == 8  # no more workers than cores
    assert auto(16, 2, 100 * gib, gib, busy_fraction=0.09) == 8  # the cores shared by 2 GPUs
    assert auto(16, 1, 4 * gib, gib, busy_fraction=0.09) == 3  # 80% of the free memory
    assert auto(16, 1, 100 * gib, gib, busy_fraction=1.0) == 1  # one trial already fills it
    assert auto(1, 1, gib // 2, gib, busy_fraction=0.0) == 1  # never below one
    with pytest.raises(ValueError):
        auto(16, 0, gib, gib, 0.5)
