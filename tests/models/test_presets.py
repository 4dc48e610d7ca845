"""The named presets against the reference implementation's published figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from cspsearch.cli import app
from cspsearch.measure.macs import count_macs
from cspsearch.models import FAMILIES
from cspsearch.models import build_model
from cspsearch.models.presets import PRESETS
from cspsearch.models.yolo_presets import YOLO_PRESETS
from cspsearch.space.configs import ModelConfig

# timm's results/benchmark-infer-amp-nchw-pt240-cu124-rtx4090.csv at 256×256, 1000 classes:
# param_count (millions, 2 decimals) and infer_gmacs. docs/zoo.md gives two counts exactly.
REFERENCE = {
    "cspresnet50": (21.62, 4.54),
    "cspresnext50": (20.57, 4.05),
    "cspdarknet53": (27.64, 6.57),
    "darknet53": (41.61, 9.31),
    "cs3darknet_s": (3.28, 0.72),
    "cs3darknet_m": (9.31, 2.08),
    "cs3darknet_l": (21.16, 4.86),
    "cs3darknet_x": (35.05, 8.38),
}
EXACT = {"cspresnet50": 21_616_168, "cspdarknet53": 27_642_184}


def test_every_preset_has_a_reference() -> None:
    # ultralytics' models have theirs in tests/models/test_yolo_presets.py.
    assert set(PRESETS) == set(REFERENCE) | {"peleenet", "csppeleenet"} | set(YOLO_PRESETS)


def test_peleenet_matches_the_paper() -> None:
    # PeleeNet: 2.8 M parameters, 508 M multiply-adds at 224×224 (CSPNet's table: 1.017 BFLOPs).
    cfg, size = PRESETS["peleenet"]
    report = count_macs(build_model(cfg), size, 3)
    assert round(report.params / 1e6, 1) == 2.8
    conv = report.by_operator["conv"] + report.by_operator["linear"]
    assert abs(conv / 508e6 - 1) < 0.01


def test_csppeleenet_is_csp_on_stages_2_to_4() -> None:
    cfg, _ = PRESETS["csppeleenet"]
    assert cfg.fusion == ("none", "full", "full", "full") and cfg.split_ratio == (0.5,) * 4
    model = build_model(cfg)
    no_bn = sum(
        p.numel()
        for name, p in model.named_parameters()
        if not isinstance(model.get_submodule(name.rsplit(".", 1)[0]), torch.nn.BatchNorm2d)
    )
    assert no_bn == 2_833_480  # the reference README's 2.83 M


def test_model_ablation_prints_every_variant_against_the_paper() -> None:
    result = CliRunner().invoke(app, ["model", "ablation", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = {(r["fusion"], r["split_ratio"]): r for r in json.loads(result.stdout)}
    assert set(rows) == {
        ("none", None),
        ("full", 0.5),
        ("last", 0.5),
        ("first", 0.5),
        ("last", 0.25),
        ("full", 0.25),
    }
    assert rows[("none", None)]["change"] == 0.0
    for row in rows.values():
        assert row["conv_macs"] < row["macs"] and row["params_no_bn"] < row["params"]
    # Every variant within 3 percentage points of the paper (CSP on stages 2-4, csp_stage.py).
    for key, row in rows.items():
        assert key == ("none", None) or abs(row["gap"]) <= 3.0, row
    # Parameters without BatchNorm as the paper counts them: PeleeNet 2.79 M, CSPPeleeNet 2.83 M.
    assert rows[("none", None)]["params_no_bn"] == 2_792_520
    assert rows[("full", 0.5)]["params_no_bn"] == 2_833_480


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_preset_matches_the_reference(name: str) -> None:
    cfg, size = PRESETS[name]
    report = count_macs(build_model(cfg), size, 3)
    params_m, gmacs = REFERENCE[name]
    assert round(report.params / 1e6, 2) == params_m
    if name in EXACT:
        assert report.params == EXACT[name]
    # Within 1% of the published GMACs (themselves rounded to 0.01).
    assert abs(report.macs / 1e9 - gmacs) / gmacs < 0.01


def test_model_show_json() -> None:
    result = CliRunner().invoke(app, ["model", "show", "cspdarknet53", "--json", "--no-latency"])
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["params"] == 27_642_184 and shown["input_size"] == 256
    assert abs(shown["macs"] / 6.57e9 - 1) < 0.01 and shown["flops"] == 2 * shown["macs"]
    # timm's published activation count (infer_macts) is 16.81 M.
    assert round(shown["activations"] / 1e6, 2) == 16.81 and "latency" not in shown


def test_model_show_times_a_small_space_model(tmp_path: Path) -> None:
    space = tmp_path / "fixed.yaml"
    space.write_text(
        "model: {family: csp_darknet, num_stages: 2, stem_width: 8, "
        "out_chs: [16, 32], fusion: last}\ndata: {input_size: 16}\n"
    )
    result = CliRunner().invoke(app, ["model", "show", str(space), "--json"])
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["num_classes"] == 10 and shown["input_size"] == 16
    assert 0 < shown["latency"] < shown["latency_b32"] and shown["device"] == "cpu"


SMALL = dict(
    num_stages=3,
    stem_width=16,
    depth=(1, 2, 1),
    out_chs=(32, 64, 128),
    stride=2,
    growth_rate=8,
    in_chans=3,
    num_classes=10,
)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("fusion", ["none", "first", "last", "full"])
def test_fvcore_agrees_with_torch_flop_counter(family: str, fusion: str) -> None:
    model = build_model(ModelConfig(family=family, fusion=fusion, **SMALL)).eval()
    report = count_macs(model, 32, 3)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, 32, 32))
    # torch counts convolutions and matrix products as 2 FLOPs per multiply-add.
    conv_linear = report.by_operator.get("conv", 0) + report.by_operator.get("linear", 0)
    assert abs(counter.get_total_flops() / 2 - conv_linear) / conv_linear < 0.02


@pytest.mark.parametrize("family", ["csp_resnet", "csp_resnext", "csp_darknet"])
@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75])
def test_split_ratio_moves_freely_in_residual_families(family: str, ratio: float) -> None:
    cfg = ModelConfig(family=family, fusion="full", split_ratio=ratio, **SMALL)
    model = build_model(cfg)
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (2, 10)
    bypass = [s.widths.bypass for s in model.stages]
    assert bypass == [round(ratio * c) for c in (32, 64, 128)]


def test_resnext_split_respects_the_group_count() -> None:
    cfg = ModelConfig(family="csp_resnext", fusion="full", split_ratio=0.3, groups=8, **SMALL)
    model = build_model(cfg)
    for stage in model.stages:
        assert stage.widths.bypass % 8 == 0 and stage.widths.blocks_in % 8 == 0
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_indivisible_groups_are_rejected_before_building() -> None:
    from cspsearch.errors import BuildError

    with pytest.raises(BuildError, match="stage 0: 12 groups do not divide"):
        build_model(ModelConfig(family="csp_resnext", fusion="full", groups=12, **SMALL))
