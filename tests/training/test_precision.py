"""--precision / train.precision: resolution, user errors, and bf16 training on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from cspsearch.classification.data import load_dataset
from cspsearch.classification.task import train_briefly
from cspsearch.cli import Precision
from cspsearch.cli import app
from cspsearch.errors import SpaceError
from cspsearch.models import build_model
from cspsearch.space.configs import PRECISIONS
from cspsearch.space.configs import DataConfig
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import TrainConfig
from cspsearch.space.loader import load_space
from cspsearch.space.loader import override_train
from cspsearch.training import precision as P
from tests.conftest import TINY_SPACE
from tests.conftest import write_space


def test_cli_choices_match_the_config_rule() -> None:
    assert tuple(p.value for p in Precision) == PRECISIONS


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_only_where_native(native: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: native)
    assert P.resolve_precision("cpu", "auto") == ("bf16" if native else "fp32")
    assert P.resolve_precision("cpu", "fp32") == "fp32"
    assert P.resolve_precision("cpu", "bf16") == "bf16"  # explicit: kept, emulated if need be


def test_unknown_precision_is_a_space_error() -> None:
    with pytest.raises(SpaceError, match="precision: 'fp16' must be one of fp32, bf16, auto"):
        P.resolve_precision("cpu", "fp16")


def test_autocast_runs_convolutions_in_bf16_only_when_asked() -> None:
    conv = torch.nn.Conv2d(1, 4, 3)
    x = torch.randn(2, 1, 8, 8)
    with P.autocast("cpu", "bf16"):
        assert conv(x).dtype == torch.bfloat16
    with P.autocast("cpu", "fp32"):
        assert conv(x).dtype == torch.float32


def test_channels_last_on_the_cpu_only_with_avx512(monkeypatch: pytest.MonkeyPatch) -> None:
    for avx512 in (False, True):
        monkeypatch.setattr(P, "cpu_has_avx512", lambda avx512=avx512: avx512)
        assert P.use_channels_last("cpu", "fp32") is avx512
        assert P.use_channels_last("cpu", "bf16") is avx512
    model = torch.nn.Conv2d(1, 4, 3)
    x = P.to_channels_last(model, torch.randn(2, 1, 8, 8))
    assert model.weight.is_contiguous(memory_format=torch.channels_last)
    assert x is not None and x.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("channels_last", [False, True])
def test_training_in_either_memory_format_learns_and_restores_the_model(
    monkeypatch: pytest.MonkeyPatch, channels_last: bool
) -> None:
    monkeypatch.setattr(P, "cpu_has_avx512", lambda: channels_last)
    torch.manual_seed(0)
    model = build_model(ModelConfig(num_stages=2, stem_width=16, growth_rate=8, depth=2))
    cfg = TrainConfig(epochs=2, batch_size=64, precision="fp32")
    result = train_briefly(model, load_dataset(DataConfig(input_size=8)), cfg)
    assert result.val[-1]["accuracy"] > 0.5
    conv = next(
        m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] > 1
    )
    assert conv.weight.is_contiguous()  # back in the default format after training


def test_bf16_training_runs_on_the_cpu_and_learns() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(num_stages=2, stem_width=16, growth_rate=8, depth=2))
    cfg = TrainConfig(epochs=2, batch_size=64, precision="bf16")
    result = train_briefly(model, load_dataset(DataConfig(input_size=8)), cfg)
    assert result.precision == "bf16" and 0 < result.step_time_s < result.train_time_s
    assert result.val[-1]["accuracy"] > 0.5  # far above the 10% of chance
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay fp32


def test_yaml_precision_is_validated(tmp_path: Path) -> None:
    path = write_space(tmp_path, TINY_SPACE.replace("epochs: 1", "epochs: 1\n  precision: fp16"))
    with pytest.raises(SpaceError, match=r"train\.precision: 'fp16' must be one of"):
        load_space(path)
    space = override_train(load_space(write_space(tmp_path, TINY_SPACE)), precision="fp32")
    assert space.train["precision"] == "fp32"


def test_bad_cli_precision_exits_2(tiny_space_file: Path) -> None:
    result = CliRunner().invoke(app, ["run", "--space", str(tiny_space_file), "--precision", "x"])
    assert result.exit_code == 2
    words = " ".join(w for w in result.output.split() if w != "│")  # typer's error box
    assert "'x' is not one of 'fp32', 'bf16', 'auto'" in words
    assert not Path("reports").exists()  # nothing written
