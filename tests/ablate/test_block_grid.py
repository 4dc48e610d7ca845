"""The block ablation (cspsearch/ablate/block_grid.py): every stage's block replaced by each
listed block at the base's widths and depths, the base itself the reference, keys that follow
the block filled in; bad options refused in one line; a tiny run end to end."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from cspsearch.ablate.block_grid import BlockGrid
from cspsearch.ablate.grid import Base
from cspsearch.ablate.run import check_options
from cspsearch.ablate.sources import from_space
from cspsearch.cli import app
from cspsearch.errors import SpaceError
from cspsearch.space.loader import load_space
from cspsearch.space.sampling import sample_config
from tests.conftest import write_space

TINY_YOLO = """
model:
  family: csp_yolo
  num_stages: 2
  stem_width: 8
  stride: [1, 2]
  block: {choices: [csp, c2f]}
  out_chs: 16
  depth: {choices: [1, 2]}
  down_growth: true
  split_ratio: {choices: [0.25, 0.5]}
  hidden_ratio: {choices: [0.25, 0.5]}
  fusion: {choices: [none, full]}
  activation: silu
train: {epochs: 1, batch_size: 64, seed: 0}
data: {dataset: digits, input_size: 8}
objectives: {val_accuracy: maximize, macs: minimize}
study: {n_trials: 2}
"""
ONLY_BLOCK_KEYS = {"block", "fusion", "split_ratio", "hidden_ratio", "expand_ratio",
                   "bottle_ratio", "groups", "cross_linear", "shortcut", "c3k"}  # fmt: skip


@pytest.fixture
def yolo_space_file(tmp_path: Path) -> Path:
    return write_space(tmp_path, TINY_YOLO, "tinyyolo")


def test_variants_change_the_block_and_keep_the_rest(yolo_space_file: Path) -> None:
    space = load_space(yolo_space_file)
    grid = BlockGrid.make(["c3", "c2f", "csp"], seeds=2)
    assert grid.labels() == ["base", "c3", "c2f", "csp"] and grid.reference == "base"
    ablation = grid.make_space(space, None)
    c2f = Base(
        "trial 1",
        grid.base_params(
            space, {"block": "c2f", "depth": 2, "split_ratio": 0.25, "hidden_ratio": 0.25}
        ),
    )
    csp = Base("trial 0", grid.base_params(space, {"block": "csp", "depth": 1, "fusion": "none"}))
    wanted = grid.cells(ablation, [c2f, csp])
    # c2f's own block and csp's own block are their reference rows, not trained twice
    assert {(c.base, c.variant) for c in wanted} == {
        ("trial 1", v) for v in ("base", "c3", "csp")
    } | {("trial 0", v) for v in ("base", "c3", "c2f")}
    assert len(wanted) == 6 * 2
    models = {}
    for c in wanted:
        model, train = sample_config(ablation, optuna.trial.FixedTrial(c.params))
        models[c.base, c.variant, c.seed] = asdict(model)
        assert train.seed == c.seed and train.seeds == 1
    for (base, variant, seed), model in models.items():
        ref = models[base, "base", seed]
        assert {k for k in model if model[k] != ref[k]} <= ONLY_BLOCK_KEYS
        assert model["depth"] == ref["depth"] and model["out_chs"] == ref["out_chs"]
        if variant != "base":
            assert model["block"] == (variant,) * 2
    assert models["trial 1", "base", 0]["block"] == ("c2f", "c2f")
    assert models["trial 1", "c3", 0]["hidden_ratio"] == (0.25, 0.25)  # held: c3 takes it
    assert models["trial 1", "csp", 0]["fusion"] == ("full", "full")  # csp's default fusion
    assert models["trial 0", "c2f", 0]["split_ratio"] == (0.5, 0.5)  # no split before: default


@pytest.mark.parametrize(
    ("blocks", "fusions", "message"),
    [
        (["c3", "c4"], None, "--block: unknown block 'c4'"),
        ([], None, "--block: give at least one block"),
        (["c3"], ["full"], "without --fusion/--split-ratio"),
    ],
)
def test_bad_block_options(blocks: list[str], fusions: list[str] | None, message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        check_options(fusions=fusions, ratios=None, blocks=blocks, seeds=2)


def test_a_family_without_blocks_is_refused(tiny_space_file: Path) -> None:
    grid = BlockGrid.make(["c3"])
    with pytest.raises(SpaceError, match="model.family: 'csp_densenet' has no block to vary"):
        grid.make_space(load_space(tiny_space_file), None)


def test_a_fixed_base_keeps_its_own_block(tmp_path: Path) -> None:
    fixed = (
        TINY_YOLO.replace("{choices: [csp, c2f]}", "c2f")
        .replace("{choices: [1, 2]}", "1")
        .replace("{choices: [0.25, 0.5]}", "0.5")
        .replace("  fusion: {choices: [none, full]}\n", "")
    )
    source = from_space(str(write_space(tmp_path, fixed, "fixedyolo")))
    grid = BlockGrid.make(["c3", "c2f"], seeds=1)
    (base,) = source.bases(grid)
    assert base.params == {"block": "c2f"}
    variants = [c.variant for c in grid.cells(grid.make_space(source.space, None), [base])]
    assert variants == ["base", "c3"]


@pytest.mark.slow
def test_a_tiny_block_ablation_end_to_end(yolo_space_file: Path, storage_url: str) -> None:
    runner = CliRunner()
    run = ["run", "--space", str(yolo_space_file), "--storage", storage_url, "--n-trials", "2"]
    assert runner.invoke(app, run).exit_code == 0
    args = ["ablate", "tinyyolo", "--storage", storage_url, "--top", "1", "--seeds", "2"]
    done = runner.invoke(app, [*args, "--block", "c3,elan", "--no-gradients", "--json", "b.json"])
    assert done.exit_code == 0, done.output
    assert "Δ accuracy pp vs base" in done.stdout and "accuracy–MACs front" in done.stdout
    trials = optuna.load_study(study_name="tinyyolo-ablation", storage=storage_url).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * len(trials)
    blocks = {t.user_attrs["ablation_variant"]: t.params["block"] for t in trials}
    assert blocks["c3"] == "c3" and blocks["elan"] == "elan" and blocks["base"] in ("csp", "c2f")
    page = Path("reports/tinyyolo-ablation.html").read_text(encoding="utf-8")
    assert "against MACs" in page and "On the front:" in page
    rows = json.loads(Path("b.json").read_text(encoding="utf-8"))["rows"]
    assert {r["variant"] for r in rows} >= {"base", "c3", "elan"}
    c3 = next(r for r in rows if r["variant"] == "c3")
    assert c3["pairs"] == 2 and c3["difference_low_pp"] <= c3["difference_pp"]
    again = runner.invoke(app, ["report", "tinyyolo-ablation", "--storage", storage_url,
                                "--json", "again.json"])  # fmt: skip
    assert again.exit_code == 0 and json.loads(Path("again.json").read_text())["rows"] == rows
