from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from cspsearch.errors import SpaceError
from cspsearch.space.loader import bundled_spaces
from cspsearch.space.loader import load_space
from cspsearch.space.loader import override_train
from cspsearch.space.sampling import sample_config
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import Range
from tests.conftest import TINY_SPACE
from tests.conftest import write_space


def test_bundled_space_loads() -> None:
    space = load_space("csp_densenet")
    # The bundled space searches every factor the issue names.
    assert {"split_ratio", "fusion", "depth_0", "growth_rate", "stem_width"} <= set(
        space.searched()
    )
    assert space.model["fusion"] == Choice(("none", "first", "last", "full"))
    assert space.model["depth"] == (Range(1, 4),) * 3
    assert space.budget == {"macs": 12_000_000.0}
    assert "csp_densenet" in bundled_spaces()


def test_path_and_name_load_the_same(tiny_space_file: Path) -> None:
    space = load_space(tiny_space_file)
    assert space.name == "tiny" and space.data.input_size == 8
    assert load_space(str(tiny_space_file)).fingerprint() == space.fingerprint()


def test_size_matches_exhaustive_enumeration(tiny_space_file: Path) -> None:
    space = load_space(tiny_space_file)
    study = optuna.create_study(sampler=optuna.samplers.BruteForceSampler(seed=0))
    seen = set()

    def objective(trial: optuna.Trial) -> float:
        model, _ = sample_config(space, trial)
        seen.add(model)
        return 0.0

    study.optimize(objective, n_trials=1000)
    # depth 2 × (none + 3 fusions × 2 split ratios) = 14 distinct architectures.
    assert space.size() == len(seen) == len(study.trials) == 14


def test_continuous_space_has_no_size(tmp_path: Path) -> None:
    text = TINY_SPACE.replace(
        "  precise_bn: 128", "  precise_bn: 128\n  lr: {low: 0.001, high: 0.1, log: true}"
    )
    assert load_space(write_space(tmp_path, text)).size() is None


def test_override_train_validates(tiny_space_file: Path) -> None:
    space = load_space(tiny_space_file)
    assert override_train(space, epochs=3).train["epochs"] == 3
    # A changed training setting changes what the study's trials mean.
    assert override_train(space, epochs=3).fingerprint() != space.fingerprint()
    with pytest.raises(SpaceError, match="train.epochs: 0 must be in"):
        override_train(space, epochs=0)


BAD = [
    ("model: [1, 2", "invalid YAML at line"),
    ("- a\n- b", "must be a mapping of sections"),
    ("modle: {}", "modle: unknown key"),
    ("model: {splt_ratio: 0.5}", "model.splt_ratio: unknown key"),
    ("model: {split_ratio: 1.5}", "model.split_ratio: 1.5 must be in (0.0, 1.0)"),
    ("model: {split_ratio: 0}", "model.split_ratio: 0 must be in (0.0, 1.0)"),
    ("model: {split_ratio: .nan}", "model.split_ratio: nan must be a finite number"),
    ("model: {split_ratio: {choices: [0.5, 1.0]}}", "model.split_ratio.choices[1]: 1.0"),
    ("model: {depth: two}", "model.depth: 'two' must be an integer"),
    ("model: {depth: true}", "model.depth: True must be an integer"),
    ("model: {fusion: both}", "model.fusion: 'both' must be one of none, first, last, full"),
    ("model: {fusion: {choices: []}}", "model.fusion.choices: [] must be a non-empty list"),
    ("model: {fusion: {choices: [last, last]}}", "has duplicates"),
    ("model: {depth: {low: 4, high: 2}}", "low 4 must be below high 2"),
    ("model: {depth: {low: 1}}", "needs 'choices' or 'low' and 'high'"),
    ("model: {depth: {low: 1, high: 4, step: 0.5}}", "model.depth.step: 0.5 must be an integer"),
    ("model: {depth: {choices: [1], low: 1}}", "model.depth.low: unknown key"),
    ("model: {depth: [1, 2]}", "2 per-stage values need a fixed num_stages of 2"),
    ("model: {stem_width: [8, 8, 8]}", "model.stem_width: [8, 8, 8] must be an integer"),
    ("model: {fusion: {low: 1, high: 2}}", "model.fusion.low: 1 must be one of"),
    ("train: {lr: -1}", "train.lr: -1 must be in (0.0, 10.0]"),
    ("train: {lr: {low: 0.0, high: 1, log: true}}", "train.lr.low: 0.0 must be in"),
    ("data: {dataset: mnist}", "data.dataset: 'mnist' must be one of digits"),
    ("data: {input_size: {choices: [8, 16]}}", "data.input_size: {'choices': [8, 16]}"),
    ("objectives: {accuracy: maximize}", "objectives.accuracy: unknown key"),
    ("objectives: {macs: smallest}", "objectives.macs: 'smallest' must be maximize or minimize"),
    ("budget: {macs: lots}", "budget.macs: 'lots' must be a positive number"),
    ("budget: {macs: -5}", "budget.macs: -5 must be a positive number"),
    ("study: {sampler: cmaes}", "study.sampler: 'cmaes' must be one of"),
    ("study: {n_trials: 0}", "study.n_trials: 0 must be a positive integer"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_space_is_one_line_naming_file_key_value(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write_space(tmp_path, text, "bad")
    with pytest.raises(SpaceError) as info:
        load_space(path)
    # One line, starting with the file, containing the key and the bad value.
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_budget_accepts_exponent_strings(tmp_path: Path) -> None:
    # YAML 1.1 reads 5e7 (no dot) as a string; it still means fifty million.
    assert load_space(write_space(tmp_path, "budget: {macs: 5e7}")).budget == {"macs": 5e7}


def test_unknown_space_lists_the_bundled_ones() -> None:
    with pytest.raises(SpaceError, match="unknown space 'nope'.*csp_densenet"):
        load_space("nope")


def test_readme_example_space_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("## Writing a space")[1].split("```yaml")[1].split("```")[0]
    space = load_space(write_space(tmp_path, example, "readme"))
    assert space.budget == {"macs": 12e6} and space.size() is None  # lr is continuous


def test_a_classification_space_cannot_read_a_detection_dataset() -> None:
    from cspsearch.errors import SpaceError
    from cspsearch.space.loader import load_space
    from cspsearch.space.loader import override_data

    with pytest.raises(SpaceError, match="objectives.val_accuracy: 'shapes' is a detection"):
        override_data(load_space("csp_densenet"), "shapes")
    assert override_data(load_space("csp_efm"), "coco:some/folder").data.path == "some/folder"
