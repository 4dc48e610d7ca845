from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from cspsearch.classification.data import load_dataset
from cspsearch.classification.data import split_indices
from cspsearch.classification.task import train_briefly
from cspsearch.models import build_model
from cspsearch.space.configs import DataConfig
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import TrainConfig
from cspsearch.training.loop import fit
from cspsearch.training.loop import lr_factor
from cspsearch.training.loop import make_optimizer

DATA = DataConfig(input_size=8)
MODEL = ModelConfig(num_stages=2, stem_width=16, growth_rate=8, depth=2, fusion="last")


def test_split_is_disjoint_stratified_and_fixed_by_seed() -> None:
    labels = np.repeat(np.arange(10), 20)
    train, val, test = split_indices(labels, 0.15, 0.15, seed=3)
    assert (
        len(set(train) | set(val) | set(test)) == len(labels) == len(train) + len(val) + len(test)
    )
    assert np.bincount(labels[val]).tolist() == [3] * 10
    assert all(
        (a == b).all() for a, b in zip(split_indices(labels, 0.15, 0.15, 3), (train, val, test))
    )
    assert not (split_indices(labels, 0.15, 0.15, 4)[1] == val).all()


def test_digits_are_on_the_device_at_the_input_size() -> None:
    data = load_dataset(DATA)
    assert data.train_x.shape[1:] == (1, 8, 8)
    assert len(data.train_x) + len(data.val_x) + len(data.test_x) == 1797
    assert abs(float(data.train_x.mean())) < 1e-4  # normalised with the training statistics


def test_lr_warms_up_then_decays_to_zero() -> None:
    lrs = [lr_factor(s, 100, warmup_fraction=0.1) for s in range(100)]
    assert lrs[0] == 0.1 and lrs[9] == 1.0 and lrs[99] < 0.01
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))


def _train(seed: int) -> list[float]:
    torch.manual_seed(seed)
    result = train_briefly(
        build_model(MODEL), load_dataset(DATA), TrainConfig(epochs=3, batch_size=32, seed=seed)
    )
    return [*result.curve("accuracy"), result.test["accuracy"], *result.train_loss]


def test_training_learns_and_is_deterministic_on_cpu() -> None:
    first = _train(0)
    assert first == _train(0)
    # Three short epochs on 8×8 digits: far above the 10% of chance.
    assert first[2] > 0.6
    assert first != _train(1)


class Diverging(torch.nn.Module):
    """A real module whose output becomes infinite: the loss is not finite."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1)) * float("inf")


def test_non_finite_loss_is_a_divergence() -> None:
    import pytest

    from cspsearch.errors import TrainDiverged

    with pytest.raises(TrainDiverged, match="training loss became nan in epoch 1"):
        train_briefly(Diverging(), load_dataset(DATA), TrainConfig(epochs=2))


def test_deadline_stops_training() -> None:
    import time

    import pytest

    from cspsearch.errors import TrialTimeout

    with pytest.raises(TrialTimeout, match="time ran out in epoch 1, step 1"):
        train_briefly(
            build_model(MODEL),
            load_dataset(DATA),
            TrainConfig(epochs=2),
            deadline=time.perf_counter(),
        )


def _one_full_batch_epoch(model: torch.nn.Module, hooks) -> float:  # noqa: ANN001
    """The loop's recorded loss of one epoch of one batch that does not change the weights."""
    # fp32: the expected loss is computed in fp32, and auto would be bf16 on a CPU with native
    # bf16 (the detector's loss then moved by 5.5e-4 of itself).
    cfg = TrainConfig(
        epochs=1, batch_size=len(hooks.train_x), lr=0.0, precise_bn=0, precision="fp32"
    )
    return fit(model, hooks, cfg).train_loss[0]


def test_both_tasks_record_the_mean_loss_of_a_batch_in_the_same_units() -> None:
    # One epoch, one batch, lr 0: the recorded loss must equal the task's loss of that batch,
    # as a mean (the old detection trainer divided it by the batch size once more).
    from cspsearch.classification.task import classification_hooks
    from cspsearch.detection.data import load_detection
    from cspsearch.detection.shapes import make_shapes
    from cspsearch.detection.task import detection_hooks
    from cspsearch.models.detector import Detector
    from cspsearch.space.configs import DetectorConfig
    from tests.models.test_necks import BACKBONE

    torch.manual_seed(0)
    data = load_dataset(DATA)
    model = build_model(MODEL)
    hooks = classification_hooks(data)
    expected = hooks.loss(model.train()(data.train_x), data.train_y).item()
    assert _one_full_batch_epoch(model, hooks) == pytest.approx(expected, rel=1e-4)

    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp()) / "shapes"
    json_path = make_shapes(folder, images=24, size=64, seed=1)
    det_cfg = DataConfig(dataset="coco", path=str(json_path.parent), input_size=64)
    det_data = load_detection(det_cfg)
    anchors = torch.tensor(det_data.anchors)
    detector = Detector(BACKBONE, DetectorConfig(neck_width=8), 4, anchors, 64)
    hooks = detection_hooks(detector, det_data, "giou")
    x, targets = det_data.train.x, det_data.train.targets
    expected = hooks.loss(detector.train()(x), targets).item()
    assert _one_full_batch_epoch(detector, hooks) == pytest.approx(expected, rel=1e-4)


def test_the_cpu_optimiser_gives_the_per_tensor_adamw_weights_to_the_bit() -> None:
    """foreach AdamW on the CPU is a speed-up only: the trained weights equal PyTorch's default
    (per-tensor) AdamW exactly, so a study repeats its numbers."""
    cfg = TrainConfig(lr=0.004, weight_decay=0.0005)
    torch.manual_seed(0)
    model = build_model(ModelConfig(family="csp_darknet", num_stages=2, stem_width=8, out_chs=16,
                                    depth=1, in_chans=1))  # fmt: skip
    twin = copy.deepcopy(model)
    mine = make_optimizer(model, cfg, torch.device("cpu"))
    plain = torch.optim.AdamW(twin.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    assert mine.defaults["foreach"] and not plain.defaults["foreach"]
    x = torch.randn(8, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    for net, opt in ((model, mine), (twin, plain)):
        for _ in range(5):
            opt.zero_grad()
            net(x).pow(2).mean().backward()
            opt.step()
    for a, b in zip(model.state_dict().values(), twin.state_dict().values()):
        assert torch.equal(a, b)
