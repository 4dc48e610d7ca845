from __future__ import annotations

from pathlib import Path

import optuna

from cspsearch.space.configs import ModelConfig
from cspsearch.space.loader import load_space
from cspsearch.space.sampling import sample_config
from tests.conftest import write_space


def test_split_ratio_is_not_sampled_without_fusion(tiny_space_file: Path) -> None:
    space = load_space(tiny_space_file)
    for fusion in ("none", "last"):
        trial = optuna.trial.FixedTrial({"depth": 2, "fusion": fusion, "split_ratio": 0.25})
        model, train = sample_config(space, trial)
        assert model.fusion == (fusion, fusion)
        # γ means nothing without a split, so a none trial keeps the default and no parameter.
        expected = ModelConfig.split_ratio if fusion == "none" else 0.25
        assert model.split_ratio == (expected, expected)
        assert train.epochs == 1


def test_per_stage_values_are_separate_parameters(tmp_path: Path) -> None:
    text = (
        "model:\n  num_stages: 2\n  depth: [{low: 1, high: 3}, 2]\n  fusion: [last, none]\n"
        "  split_ratio: [{choices: [0.25, 0.5]}, {choices: [0.25, 0.5]}]\n"
    )
    space = load_space(write_space(tmp_path, text))
    study = optuna.create_study()
    trial = study.ask()
    model, _ = sample_config(space, trial)
    # Only stage 0's depth is searched; stage 1 is unfused, so only stage 0 has a γ.
    assert set(trial.params) == {"depth_0", "split_ratio_0"}
    assert model.depth[1] == 2 and 1 <= model.depth[0] <= 3
    assert model.fusion == ("last", "none")


def test_maxout_size_is_only_sampled_with_maxout() -> None:
    import optuna

    from cspsearch.space.loader import parse_space
    from cspsearch.space.sampling import sample_detector

    space = parse_space(
        {
            "data": {"dataset": "shapes", "input_size": 64},
            "detector": {
                "neck": {"choices": ["fpn", "efm"]},
                "maxout": {"choices": [False, True]},
                "maxout_size": {"choices": [2, 4]},
            },
        },
        source="t.yaml",
        name="t",
    )
    assert space.is_detection and space.objectives == {"val_ap50": "maximize", "macs": "minimize"}
    assert space.size() == 2 * 3  # maxout off, or on with one of two group sizes; × 2 necks
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(30):
        trial = study.ask()
        cfg = sample_detector(space, trial)
        assert ("maxout_size" in trial.params) == cfg.maxout
        seen.add((cfg.neck, cfg.maxout, cfg.maxout_size))
        study.tell(trial, 0.0)
    assert len(seen) == 6
