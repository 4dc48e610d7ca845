"""The detection ablation (cspsearch/ablate/detector_grid.py): the grid is over the detector on
the base's fixed backbone, fpn is the reference, the score is AP50, one seed per trial."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import optuna
import pytest

from cspsearch.ablate.csp_grid import CspGrid
from cspsearch.ablate.detector_grid import VARIANTS
from cspsearch.ablate.detector_grid import DetectorGrid
from cspsearch.ablate.grid import Base
from cspsearch.ablate.read import read_ablation
from cspsearch.ablate.run import ablate
from cspsearch.ablate.run import choose_grid
from cspsearch.ablate.sources import Source
from cspsearch.ablate.sources import from_space
from cspsearch.ablate.sources import from_study
from cspsearch.ablate.text import format_study
from cspsearch.errors import SpaceError
from cspsearch.errors import StudyError
from cspsearch.space.loader import load_space
from cspsearch.space.sampling import sample_config
from cspsearch.space.sampling import sample_detector
from cspsearch.trials.rules import check_run
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study
from tests.conftest import write_space

TINY_DETECTION = """
description: tiny detection test space
model:
  family: csp_darknet
  num_stages: 3
  stem_width: 8
  stem_stride: 2
  out_chs: [8, 16, 16]
  stride: 2
  depth: 1
  split_ratio: {choices: [0.25, 0.5]}
  fusion: {choices: [none, full]}
detector:
  neck: {choices: [fpn, efm]}
  neck_width: 8
  maxout: {choices: [false, true]}
  spp: false
  attention: none
train:
  epochs: 1
  batch_size: 16
data:
  dataset: shapes
  images: 24
  input_size: 32
  val_fraction: 0.25
  test_fraction: 0.25
objectives:
  val_ap50: maximize
  macs: minimize
study:
  n_trials: 2
"""


@pytest.fixture
def detection_space_file(tmp_path: Path) -> Path:
    return write_space(tmp_path, TINY_DETECTION, "tinydet")


def test_variants_differ_from_their_base_in_the_detector_only(detection_space_file: Path) -> None:
    grid = DetectorGrid.make(2)
    assert grid.reference == "fpn" and grid.labels()[0] == "fpn" and len(grid.labels()) == 7
    space = grid.make_space(load_space(detection_space_file), None)
    check_run(space, early_stop=False)  # one seed per trial: a detector may be ablated
    full = Base("trial 1", {"fusion": "full", "split_ratio": 0.5})
    bases = [full, Base("trial 0", {"fusion": "none"})]
    wanted = grid.cells(space, bases)
    assert len(wanted) == 2 * 7 * 2 and len({(c.base, c.variant, c.seed) for c in wanted}) == 28
    configs = {}
    for c in wanted:
        fixed = optuna.trial.FixedTrial(c.params)
        model, train = sample_config(space, fixed)
        detector = asdict(sample_detector(space, fixed))
        configs[c.base, c.variant, c.seed] = (asdict(model), asdict(train), detector)
    for (base, variant, seed), (model, train, detector) in configs.items():
        ref_model, ref_train, ref_detector = configs[base, "fpn", seed]
        assert model == ref_model and train == ref_train  # the backbone and training are fixed
        assert train["seed"] == seed and train["seeds"] == 1
        differing = {k for k in detector if detector[k] != ref_detector[k]}
        assert differing <= {"neck", "maxout", "spp", "attention"}
        assert {k: detector[k] for k in VARIANTS[variant]} == VARIANTS[variant]
        assert model["fusion"] == (("full",) * 3 if base == "trial 1" else ("none",) * 3)
    assert configs["trial 0", "efm+se", 0][2]["attention"] == "se"
    assert configs["trial 0", "fpn", 0][2]["maxout"] is False  # the plain FPN


def test_a_detection_base_is_its_backbone(detection_space_file: Path, storage_url: str) -> None:
    space = load_space(detection_space_file)
    opened = open_storage(storage_url)
    study = open_study(space, opened, "det", make_sampler("random", 0, space))
    cat = optuna.distributions.CategoricalDistribution
    dists = {"split_ratio": cat([0.25, 0.5]), "fusion": cat(["none", "full"]),
             "neck": cat(["fpn", "efm"]), "maxout": cat([False, True])}  # fmt: skip
    # trials 0 and 1 differ in the detector only: one base
    for fusion, neck, ap, macs in [("full", "efm", 0.3, 10), ("full", "fpn", 0.2, 9)]:
        params = {"split_ratio": 0.5, "fusion": fusion, "neck": neck, "maxout": False}
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=dists, values=[ap, macs],
                user_attrs={"trained": True, "val_ap50": ap},
            )
        )  # fmt: skip
    source = from_study(opened, "det", 3, None)
    grid = choose_grid(source, fusions=None, ratios=None, seeds=3)
    bases = source.bases(grid)
    assert isinstance(grid, DetectorGrid) and [b.name for b in bases] == ["trial 0"]
    assert bases[0].params == {"split_ratio": 0.5, "fusion": "full"}


def test_a_detection_space_base_needs_a_fixed_backbone(detection_space_file: Path) -> None:
    with pytest.raises(SpaceError, match="model.split_ratio: is searched"):
        from_space(str(detection_space_file)).bases(DetectorGrid.make())
    with pytest.raises(SpaceError, match="--seeds: 0"):
        DetectorGrid.make(0)


def test_the_report_pairs_against_fpn_in_ap50(
    detection_space_file: Path, storage_url: str
) -> None:
    grid = DetectorGrid.make(2)
    space = grid.make_space(load_space(detection_space_file), None)
    study = open_study(space, open_storage(storage_url), "d", make_sampler("random", 0, space))
    study.set_user_attr("ablation", {"source": "det", "bases": {"b": {}}, "seeds": 2,
                                     "variants": grid.labels(), "reference": "fpn"})  # fmt: skip
    scores = {("fpn", 0): 0.30, ("fpn", 1): 0.40, ("gfm", 0): 0.35, ("gfm", 1): 0.46}
    for (variant, seed), ap in scores.items():
        attrs = {"trained": True, "val_ap50": ap, "macs": 100 if variant == "fpn" else 110,
                 "params": 10, "ablation_base": "b", "ablation_variant": variant,
                 "ablation_seed": seed}  # fmt: skip
        study.add_trial(optuna.trial.create_trial(values=[ap, 1.0], user_attrs=attrs))
    data = read_ablation(storage_url, "d")
    assert data.metric == "AP50" and data.reference == "fpn"
    fpn, gfm = data.tables[0].rows
    assert fpn.variant == "fpn" and fpn.change is None
    assert gfm.change.diff.mean == pytest.approx(5.5) and gfm.macs_change == pytest.approx(10)
    text = format_study(data)
    assert "Δ AP50 pp vs fpn" in text and "accuracy" not in text and "vs none" not in text


def test_a_fusion_grid_is_refused_for_a_detection_space(detection_space_file: Path) -> None:
    source = Source(load_space(detection_space_file), [Base("b")], "det")
    with pytest.raises(StudyError, match="a detection space does not take this grid"):
        ablate(source, CspGrid.make(["full"], [0.5], 1), storage=None)
    with pytest.raises(SpaceError, match="is a detection study"):
        choose_grid(source, fusions=["full"], ratios=None, seeds=1)


def _detection_study(space_file: Path, storage_url: str) -> None:
    """A study ``det`` with one trained trial (recorded, not trained: the CLI refuses first)."""
    space = load_space(space_file)
    study = open_study(space, open_storage(storage_url), "det", make_sampler("random", 0, space))
    cat = optuna.distributions.CategoricalDistribution
    study.add_trial(
        optuna.trial.create_trial(
            params={"fusion": "none", "neck": "efm", "maxout": False},
            distributions={"fusion": cat(["none", "full"]), "neck": cat(["fpn", "efm"]),
                           "maxout": cat([False, True])},
            values=[0.1, 10], user_attrs={"trained": True, "val_ap50": 0.1},
        )
    )  # fmt: skip


@pytest.mark.parametrize("option", [["--fusion", "full"], ["--split-ratio", "0.5"]])
def test_the_cli_refuses_a_fusion_grid_for_a_detection_study(
    option: list[str], detection_space_file: Path, storage_url: str
) -> None:
    from typer.testing import CliRunner

    from cspsearch.cli import app

    _detection_study(detection_space_file, storage_url)
    result = CliRunner().invoke(app, ["ablate", "det", "--storage", storage_url, *option])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "--fusion/--split-ratio: det is a detection study" in result.stderr
    assert len(optuna.load_study(study_name="det", storage=storage_url).trials) == 1
    assert "det-ablation" not in optuna.get_all_study_names(storage_url)


@pytest.mark.slow
def test_a_tiny_detection_ablation_end_to_end(
    detection_space_file: Path, storage_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cspsearch.cli import app

    monkeypatch.setenv("CSPSEARCH_CACHE", str(tmp_path / "cache"))  # shapes generated here
    runner = CliRunner()
    run = ["run", "--space", str(detection_space_file), "--storage", storage_url]
    ran = runner.invoke(app, [*run, "--n-trials", "1", "--study-name", "det"])
    assert ran.exit_code == 0, ran.output
    args = ["ablate", "det", "--storage", storage_url, "--top", "1", "--seeds", "1"]
    first = runner.invoke(app, [*args, "--device", "cpu", "--no-gradients"])
    assert first.exit_code == 0, first.output
    assert "7 trial(s) to run" in first.stderr
    assert "Δ AP50 pp vs fpn" in first.stdout and "efm+maxout" in first.stdout
    trials = optuna.load_study(study_name="det-ablation", storage=storage_url).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 7
    by_variant = {t.user_attrs["ablation_variant"]: t.user_attrs for t in trials}
    assert list(by_variant) == list(VARIANTS)
    fpn = by_variant["fpn"]["config"]
    for variant, attrs in by_variant.items():
        config = attrs["config"]
        assert config["model"] == fpn["model"] and config["train"] == fpn["train"]
        assert {k: config["detector"][k] for k in VARIANTS[variant]} == VARIANTS[variant]
        assert 0 <= attrs["val_ap50"] <= 1
