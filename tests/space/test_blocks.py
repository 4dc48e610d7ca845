"""The stage block as a search parameter: what each block takes is sampled only for it."""

from __future__ import annotations

import optuna
import pytest

from cspsearch.errors import SpaceError
from cspsearch.space.blocks import param_names
from cspsearch.space.blocks import trial_params
from cspsearch.space.configs import ModelConfig
from cspsearch.space.loader import load_space
from cspsearch.space.loader import parse_space
from cspsearch.space.sampling import sample_config
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import Range

MODEL = {
    "family": "csp_yolo",
    "block": {"choices": ["csp", "c2f", "c3k2", "elan"]},
    "fusion": {"choices": ["none", "last"]},
    "split_ratio": {"choices": [0.25, 0.5]},
    "hidden_ratio": {"choices": [0.25, 0.5]},
    "c3k": {"choices": [False, True]},
}


def _space(model: dict) -> object:
    return parse_space({"model": model}, source="t.yaml", name="t")


def test_a_block_samples_only_what_it_takes() -> None:
    space = _space(MODEL)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(60):
        trial = study.ask()
        cfg, _ = sample_config(space, trial)
        block = trial.params["block"]
        seen.add(block)
        # The block is the parameter `block`; fusion only for csp, hidden_ratio only for the
        # yolo blocks, c3k only for c3k2; γ whenever the stage is split.
        assert cfg.block == (block,) * 3
        assert ("fusion" in trial.params) == (block == "csp")
        assert ("hidden_ratio" in trial.params) == (block != "csp")
        assert ("c3k" in trial.params) == (block == "c3k2")
        split = block != "csp" or trial.params["fusion"] != "none"
        assert ("split_ratio" in trial.params) == split
        if block != "csp":  # not sampled: the config keeps the defaults
            assert cfg.fusion == (ModelConfig.fusion,) * 3
        study.tell(trial, 0.0)
    assert seen == {"csp", "c2f", "c3k2", "elan"}


def test_the_size_counts_each_block_with_its_own_keys() -> None:
    # csp: fusion none (1) or last × γ (2); c2f/elan: γ × e (4); c3k2: γ × e × c3k (8).
    assert _space(MODEL).size() == 3 + 4 + 8 + 4


def test_the_baseline_is_the_plain_csp_stage() -> None:
    assert _space(MODEL).baseline_params() == {"block": "csp", "fusion": "none"}
    no_csp = {**MODEL, "block": {"choices": ["c2f", "elan"]}}
    del no_csp["fusion"], no_csp["c3k"]
    assert _space(no_csp).baseline_params() == {}


def test_split_ratio_is_searched_for_yolo_blocks_without_fusion() -> None:
    # With fusion none the csp stage is unsplit, but a yolo block always splits.
    space = _space({**MODEL, "fusion": "none"})
    trial = optuna.trial.FixedTrial({"block": "c2f", "split_ratio": 0.25, "hidden_ratio": 0.5})
    cfg, _ = sample_config(space, trial)
    assert cfg.split_ratio == (0.25,) * 3 and cfg.block == ("c2f",) * 3


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"family": "csp_yolo", "block": "elan", "shortcut": False}, "model.shortcut: False is"),
        ({"family": "csp_resnet", "tail": "sppf"}, "model.tail: 'sppf' is taken by family"),
        ({"family": "csp_yolo", "block": "c2f", "groups": 2}, "model.groups: 2 is not taken"),
    ],
)
def test_a_key_no_block_takes_is_an_error(model: dict, message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        _space(model)


@pytest.mark.parametrize("name", ["csp_yolo", "csp_yolo_efm"])
def test_the_bundled_yolo_spaces_search_the_block(name: str) -> None:
    space = load_space(name)
    assert "block" in space.searched() and space.baseline_params()["block"] == "csp"


def test_csp_yolo_keys_at_their_defaults_are_allowed_in_another_family(tmp_path) -> None:  # noqa: ANN001
    """An exported config names every field (per-stage ones as lists); csp_yolo's keys at
    their defaults say nothing."""
    from cspsearch.space.loader import load_space

    path = tmp_path / "exported.yaml"
    path.write_text(
        "model: {family: csp_densenet, block: csp, down: conv, tail: none, head: linear,"
        " hidden_ratio: [0.5, 0.5, 0.5], shortcut: [true, true, true]}\n",
        encoding="utf-8",
    )
    assert load_space(str(path)).model["down"] == "conv"


PER_STAGE = {
    "family": "csp_yolo",
    "num_stages": 2,
    "block": [{"choices": ["csp", "c3k2"]}, {"choices": ["csp", "gelan", "elan"]}],
    "fusion": [{"choices": ["none", "full"]}, "none"],
    "split_ratio": [{"choices": [0.25, 0.5]}, {"choices": [0.25, 0.75]}],
    "hidden_ratio": {"choices": [0.25, 0.5]},
    "shortcut": [{"choices": [False, True]}, True],
    "c3k": {"choices": [False, True]},
    "depth": {"low": 1, "high": 3},
}


@pytest.mark.parametrize("model", [MODEL, PER_STAGE, {**MODEL, "fusion": "none"}])
def test_trial_params_are_what_a_trial_asks_for(model: dict) -> None:
    """trial_params (the block ablation's plain function) against what sample_config really
    suggests, on real Optuna trials of spaces with scalar and per-stage blocks and fusions."""
    space = _space(model)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    kinds = set()
    for _ in range(40):
        trial = study.ask()
        sample_config(space, trial)
        asked = trial_params(space.model, trial.params)
        assert list(asked) == list(trial.params), trial.params  # the same names, same order
        assert all(name.startswith(key) for name, key in asked.items())
        kinds.add(tuple(sorted(asked)))
        study.tell(trial, 0.0)
    assert len(kinds) >= 3  # the blocks and fusions drawn asked for different parameters


def test_trial_params_fill_a_block_the_base_did_not_have() -> None:
    space = _space(MODEL)
    # A csp base with fusion none, now with c3k2: fusion is not asked, γ is (no fusion to
    # stop it), and hidden_ratio and c3k are; a csp base with fusion last keeps its γ.
    base = {"block": "csp", "fusion": "none"}
    assert trial_params(space.model, {**base, "block": "c3k2"}) == {
        "block": "block", "hidden_ratio": "hidden_ratio", "c3k": "c3k",
        "split_ratio": "split_ratio",
    }  # fmt: skip
    assert list(trial_params(space.model, base)) == ["block", "fusion"]
    assert list(trial_params(space.model, {"block": "csp"})) == ["block", "fusion", "split_ratio"]
    assert param_names("depth", (Choice((1, 2)), 3, Range(1, 4))) == ["depth_0", "depth_2"]
