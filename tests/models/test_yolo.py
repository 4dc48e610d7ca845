"""The csp_yolo blocks and parts against ultralytics' own, and the block grid of the family."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from cspsearch.errors import BuildError
from cspsearch.measure.macs import count_macs
from cspsearch.models import build_model
from cspsearch.models.yolo_blocks import BUILDERS
from cspsearch.models.yolo_blocks import BlockSpec
from cspsearch.models.yolo_blocks import make_block
from cspsearch.models.yolo_parts import C2PSA
from cspsearch.models.yolo_parts import SPPELAN
from cspsearch.models.yolo_parts import SPPF
from cspsearch.models.yolo_parts import AConv
from cspsearch.models.yolo_parts import Classify
from cspsearch.space.configs import BLOCKS
from cspsearch.space.configs import ModelConfig
from tests.models.structure import assert_same_structure
from tests.models.structure import reference
from tests.models.structure import signature

pytestmark = pytest.mark.usefixtures("one_thread")

# ultralytics 8.4.190 in the reference venv (../shared/tools/reference-venv.sh): PyTorch's
# parameter count and fvcore's FlopCountAnalysis total on a 1 × c1 × 16 × 16 input, eval mode,
# of the module built as named (ultralytics/nn/modules/block.py, head.py), e.g.
# C3(16, 32, 2, True), C2f(16, 32, 1, False, e=0.25), C3k2(16, 32, 2, False, 0.25),
# ELAN1(16, 32, 32, 16), RepNCSPELAN4(16, 32, 32, 16, 2), C2PSA(256, 256, 2), Classify(32, 10).
# Their structure lines (structure.py) are in yolo_reference.json's "parts", built the same way
# by make_yolo_reference.py.
ULTRALYTICS = {  # name → (parameters, MACs)
    "c3": (6912, 1769472),
    "c3_e025_noshortcut": (1536, 393216),
    "c2f": (12032, 3080192),
    "c2f_e025_noshortcut": (2304, 589824),
    "c3k2_e025": (2576, 659456),
    "c3k2_c3k": (5120, 1310720),
    "elan1": (7360, 1884160),
    "repncspelan4": (13568, 3473408),
    "sppf": (2656, 679936),
    "c2psa_128": (63424, 22528000),
    "c2psa_256x2": (367360, 119209984),
    "aconv": (4672, 299008),
    "sppelan": (2656, 679936),
    "classify": (56330, 11481600),
}
OURS = {  # the same modules in the project's terms (γ = 0.5 throughout)
    "c3": lambda: make_block("c3", 16, 32, BlockSpec(depth=2)),
    "c3_e025_noshortcut": lambda: make_block(
        "c3", 16, 32, BlockSpec(depth=1, hidden_ratio=0.25, shortcut=False)
    ),
    "c2f": lambda: make_block("c2f", 16, 32, BlockSpec(depth=2)),
    "c2f_e025_noshortcut": lambda: make_block(
        "c2f", 16, 32, BlockSpec(depth=1, hidden_ratio=0.25, shortcut=False)
    ),
    "c3k2_e025": lambda: make_block("c3k2", 16, 32, BlockSpec(depth=2, hidden_ratio=0.25)),
    "c3k2_c3k": lambda: make_block("c3k2", 16, 32, BlockSpec(depth=1, c3k=True)),
    "elan1": lambda: make_block("elan", 16, 32, BlockSpec(depth=2)),
    "repncspelan4": lambda: make_block("gelan", 16, 32, BlockSpec(depth=2)),
    "sppf": lambda: SPPF(32, 32),
    "c2psa_128": lambda: C2PSA(128, 1),
    "c2psa_256x2": lambda: C2PSA(256, 2),
    "aconv": lambda: AConv(16, 32),
    "sppelan": lambda: SPPELAN(32, 32, 16),
    "classify": lambda: Classify(32, 10),
}
IN_CHS = {"sppf": 32, "c2psa_128": 128, "c2psa_256x2": 256, "sppelan": 32, "classify": 32}
REFERENCE_PARTS = reference()["parts"]


@pytest.mark.parametrize("name", sorted(ULTRALYTICS))
def test_a_part_equals_ultralytics(name: str) -> None:
    module = OURS[name]()
    report = count_macs(module, 16, IN_CHS.get(name, 16))
    # Parameters exactly, fvcore's MACs exactly (the same convolutions on the same sizes).
    assert (report.params, report.macs) == ULTRALYTICS[name]
    # and what those counts do not see: every activation, shortcut add and concatenation in
    # order, as ultralytics' module runs them (yolo_reference.json, make_yolo_reference.py)
    assert_same_structure(signature(module, IN_CHS.get(name, 16), 16), REFERENCE_PARTS[name])


def test_the_shortcut_default_differs_from_ultralytics_c2f() -> None:
    # NOTE: shortcut defaults to on for every block (ModelConfig, BlockSpec); ultralytics' C2f
    # class defaults to off (its C3, C3k2 and RepCSP to on) and its YOLOv8 YAMLs turn it on in
    # the backbone, which the presets are. With it off, ours is the class's default.
    assert ModelConfig.shortcut is True and BlockSpec(depth=1).shortcut is True
    default, off = (make_block("c2f", 16, 32, BlockSpec(2, shortcut=s)) for s in (True, False))
    assert signature(default, 16, 16) != REFERENCE_PARTS["c2f_default"]
    assert_same_structure(signature(off, 16, 16), REFERENCE_PARTS["c2f_default"])


@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("split_ratio", [0.25, 0.5, 0.75])
def test_split_ratio_moves_the_bypass(kind: str, split_ratio: float) -> None:
    block = make_block(kind, 8, 32, BlockSpec(depth=1, split_ratio=split_ratio))
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    out = block(x)
    out.sum().backward()
    assert out.shape == (2, 32, 6, 6) and x.grad is not None
    # Hidden channels 2 · int(0.5 · 32) = 32; γ of them bypass (C3: the second projection).
    bypass = block.cv2[0].out_channels if kind == "c3" else block.widths[0]
    assert bypass == round(split_ratio * 32)


def test_more_bypass_means_fewer_parameters() -> None:
    def params(kind: str, ratio: float) -> int:
        block = make_block(kind, 16, 32, BlockSpec(depth=2, split_ratio=ratio))
        return sum(p.numel() for p in block.parameters())

    # The units run on the part that does not bypass them.
    for kind in BUILDERS:
        assert params(kind, 0.75) < params(kind, 0.5) < params(kind, 0.25), kind


@pytest.mark.parametrize("block", BLOCKS)
def test_every_block_shortcut_and_hidden_ratio_builds(block: str) -> None:
    x = torch.randn(1, 1, 8, 8)
    for shortcut, hidden, c3k, ratio in itertools.product(
        (False, True), (0.05, 0.25, 0.5, 1.0), (False, True), (0.1, 0.5, 0.9)
    ):
        cfg = ModelConfig(
            family="csp_yolo",
            num_stages=2,
            stem_width=4,
            out_chs=(4, 6),
            depth=(1, 2),
            stride=(1, 2),
            block=block,
            shortcut=shortcut,
            hidden_ratio=hidden,
            c3k=c3k,
            split_ratio=ratio,
            tail="sppf_c2psa",
            num_classes=3,
        )
        with torch.no_grad():
            assert build_model(cfg).eval()(x).shape == (1, 3), cfg


@pytest.mark.parametrize("tail", ["none", "sppf", "c2psa", "sppf_c2psa", "sppelan"])
@pytest.mark.parametrize("head", ["linear", "classify"])
def test_tails_heads_and_aconv_train(tail: str, head: str) -> None:
    cfg = ModelConfig(
        family="csp_yolo",
        num_stages=3,
        stem_width=8,
        out_chs=(8, 16, 24),
        block=("elan", "gelan", "c2f"),
        stride=(1, 2, 2),
        down="aconv",
        down_growth=True,
        tail=tail,
        head=head,
        num_classes=5,
    )
    model = build_model(cfg)
    out = model(torch.randn(2, 1, 16, 16))
    out.sum().backward()
    assert out.shape == (2, 5)
    assert all(p.grad is not None for p in model.parameters())


def test_batch_norm_as_ultralytics_sets_it() -> None:
    model = build_model(ModelConfig(family="csp_yolo", block="c2f"))
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(m.eps == 1e-3 and m.momentum == 0.03 for m in norms)


def test_an_unknown_block_is_a_build_error() -> None:
    with pytest.raises(BuildError, match="stage 0: unknown block 'c4'"):
        build_model(ModelConfig(family="csp_yolo", block="c4"))


def test_the_detector_takes_the_tail_as_its_coarsest_level() -> None:
    from cspsearch.models.detector import Backbone

    cfg = ModelConfig(
        family="csp_yolo",
        num_stages=3,
        stem_width=8,
        stem_stride=2,
        out_chs=(16, 24, 32),
        block=("c3k2", "csp", "gelan"),
        tail="sppf",
        in_chans=3,
    )
    with torch.no_grad():
        levels = Backbone(cfg).eval()(torch.zeros(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in levels] == [(16, 16, 16), (24, 8, 8), (32, 4, 4)]


def test_the_csp_block_is_the_darknet_stage() -> None:
    from dataclasses import replace

    from cspsearch.models.presets import PRESETS

    # timm's cs3darknet_s, built by csp_yolo with every stage's block csp: the same network.
    cfg, _ = PRESETS["cs3darknet_s"]
    model = build_model(replace(cfg, family="csp_yolo"))
    assert sum(p.numel() for p in model.parameters()) == 3_276_344
