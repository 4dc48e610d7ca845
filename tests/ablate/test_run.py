"""The CSP ablation grid and its run (cspsearch/ablate/csp_grid.py, run.py): variants differ from
their base in fusion and γ only, one trial per (base, variant, seed), and a re-run queues nothing
twice."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import optuna
import pytest

from cspsearch.ablate.csp_grid import CspGrid
from cspsearch.ablate.grid import Base
from cspsearch.ablate.run import queue
from cspsearch.ablate.sources import from_space
from cspsearch.ablate.sources import from_study
from cspsearch.errors import SpaceError
from cspsearch.errors import StudyError
from cspsearch.space.loader import load_space
from cspsearch.space.sampling import sample_config
from cspsearch.trials.queued import claim
from cspsearch.trials.samplers import make_sampler
from cspsearch.trials.study import open_storage
from cspsearch.trials.study import open_study


def test_the_default_grid_is_none_plus_nine_variants() -> None:
    grid = CspGrid.make(["first", "last", "full"], [0.25, 0.5, 0.75], 3)
    labels = [f if r is None else f"{f}/{r:g}" for f, r in grid.variants()]
    assert labels[0] == "none" and len(labels) == 10 and "full/0.5" in labels


@pytest.mark.parametrize(
    ("fusions", "ratios", "message"),
    [
        (["full", "middle"], [0.5], "unknown fusion 'middle'"),
        (["full"], [0.5, 1.0], "1.0 must be in (0, 1)"),
        (["full"], [0.0], "0.0 must be in (0, 1)"),
        (["none"], [0.5], "at least one fusion"),
    ],
)
def test_bad_grids_are_refused(fusions: list[str], ratios: list[float], message: str) -> None:
    with pytest.raises(SpaceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CspGrid.make(fusions, ratios, 2)


def test_variants_differ_from_their_base_in_fusion_and_split_ratio_only(
    tiny_space_file: Path,
) -> None:
    grid = CspGrid.make(["first", "full"], [0.25, 0.5], 2)
    space = grid.make_space(load_space(tiny_space_file), None)
    bases = [Base("trial 3", {"depth": 2}), Base("trial 5", {"depth": 1})]
    wanted = grid.cells(space, bases)
    assert len(wanted) == 2 * 5 * 2  # bases × (none + 2 × 2) × seeds
    assert len({(c.base, c.variant, c.seed) for c in wanted}) == len(wanted)
    configs = {}
    for c in wanted:
        model, train = sample_config(space, optuna.trial.FixedTrial(c.params))
        configs[c.base, c.variant, c.seed] = (asdict(model), train.seed, train.seeds)
    for (base, variant, seed), (model, train_seed, seeds) in configs.items():
        plain = configs[base, "none", seed][0]
        differing = {k for k in model if model[k] != plain[k]}
        assert differing <= {"fusion", "split_ratio"} and train_seed == seed and seeds == 1
        if variant != "none":
            fusion, ratio = variant.split("/")
            assert model["fusion"] == (fusion,) * 2  # every stage
            assert model["split_ratio"] == (float(ratio),) * 2
        assert model["depth"] == ((2, 2) if base == "trial 3" else (1, 1))
    assert plain["fusion"] == ("none", "none")


def test_the_peleenet_preset_keeps_stage_one_plain() -> None:
    source = from_space("peleenet")
    grid = CspGrid.make(["last"], [0.5], 1)
    space = grid.make_space(source.space, source.stages)
    cell = [c for c in grid.cells(space, source.bases(grid)) if c.variant == "last/0.5"][0]
    model, _ = sample_config(space, optuna.trial.FixedTrial(cell.params))
    assert model.fusion == ("none", "last", "last", "last") and model.family == "csp_peleenet"
    assert space.data.input_size == 32 and space.budget == {}  # the stem and 3 pools fit


def test_a_space_with_searched_values_is_no_base(tiny_space_file: Path) -> None:
    with pytest.raises(SpaceError, match="model.depth: is searched"):
        from_space(str(tiny_space_file)).bases(CspGrid.make())


def test_a_rerun_queues_only_what_is_neither_complete_running_nor_waiting(
    tiny_space_file: Path, storage_url: str
) -> None:
    grid = CspGrid.make(["full"], [0.5], 2)
    space = grid.make_space(load_space(tiny_space_file), None)
    study = open_study(space, open_storage(storage_url), "a", make_sampler("random", 0, space))
    wanted = grid.cells(space, [Base("b", {"depth": 1})])
    assert queue(study, wanted) == 4 and len(study.trials) == 4
    assert queue(study, wanted) == 4 and len(study.trials) == 4  # waiting: not queued again
    # Two trials run (a stand-in objective: what matters here is their state).
    study.optimize(lambda t: (0.5, 1.0), n_trials=2)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 2 and done[0].user_attrs["ablation_variant"] == "none"
    assert queue(study, wanted) == 2 and len(study.trials) == 4
    assert claim(study) is not None  # a worker runs one: it is not queued again either
    assert queue(study, wanted) == 1 and len(study.trials) == 4


def test_a_study_without_a_trained_trial_cannot_be_ablated(
    tiny_space_file: Path, storage_url: str
) -> None:
    space = load_space(tiny_space_file)
    opened = open_storage(storage_url)
    open_study(space, opened, "empty", make_sampler("random", 0, space))
    with pytest.raises(StudyError, match="no complete trained trial"):
        from_study(opened, "empty", 3, None)
    with pytest.raises(StudyError, match="no study 'nope'"):
        from_study(opened, "nope", 3, None)


def test_bases_are_the_best_distinct_pareto_architectures(
    tiny_space_file: Path, storage_url: str
) -> None:
    space = load_space(tiny_space_file)
    opened = open_storage(storage_url)
    study = open_study(space, opened, "s", make_sampler("random", 0, space))
    dists = {
        "depth": optuna.distributions.CategoricalDistribution([1, 2]),
        "fusion": optuna.distributions.CategoricalDistribution(["none", "first", "last", "full"]),
    }
    # (depth, fusion, accuracy, MACs): trials 0 and 1 are one base (they differ in fusion only)
    for depth, fusion, acc, macs in [
        (1, "none", 0.6, 10),
        (1, "full", 0.7, 9),
        (2, "full", 0.9, 20),
    ]:
        study.add_trial(
            optuna.trial.create_trial(
                params={"depth": depth, "fusion": fusion}, distributions=dists,
                values=[acc, macs], user_attrs={"trained": True, "val_accuracy": acc},
            )
        )  # fmt: skip
    grid = CspGrid.make()
    bases = from_study(opened, "s", 3, None).bases(grid)
    assert [b.name for b in bases] == ["trial 2", "trial 1"]  # best score first
    assert bases[0].params == {"depth": 2}
    assert [b.name for b in from_study(opened, "s", 1, None).bases(grid)] == ["trial 2"]
    named = from_study(opened, "s", 3, [0, 1])
    assert [b.name for b in named.bases(grid)] == ["trial 0"]  # trial 1 is the same base
    with pytest.raises(StudyError, match="trial 7 is not a complete trained trial"):
        from_study(opened, "s", 3, [7])
