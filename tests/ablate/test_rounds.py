"""``--seeds auto`` round by round (cspsearch/ablate/rounds.py) on a real Optuna storage: rows
the sequential rule decides stop, undecided ones get the next look's seeds, the reference
keeps up with its base's most-seeded row, and a re-run trains nothing. The per-seed scores
are planted (the trainer is the slow CLI test's business: tests/cli/test_ablate.py)."""

from __future__ import annotations

import optuna

from cspsearch.ablate.grid import Cell
from cspsearch.ablate.read import read_ablation
from cspsearch.ablate.rounds import next_needs
from cspsearch.ablate.rounds import run_rounds
from cspsearch.ablate.tables import Rule

RULE = Rule(margin=5.0, min_seeds=3, max_seeds=6)  # looks at 3 and 6 seeds
VARIANTS = ("none", "same", "noisy")


def _score(variant: str, seed: int) -> float:
    """none: 0.80 (+0.1 point a seed); same: ±0.1 point of none; noisy: ±10 points."""
    none = 0.80 + 0.001 * seed
    sign = 1 if seed % 2 == 0 else -1
    return {"none": none, "same": none + 0.001 * sign, "noisy": none + 0.1 * sign}[variant]


def _study(storage: str) -> optuna.Study:
    study = optuna.create_study(
        study_name="s-ablation", storage=storage, directions=["maximize", "minimize"]
    )
    study.set_metric_names(["val_accuracy", "macs"])
    study.set_user_attr(
        "ablation",
        {"source": "s", "bases": {"trial 0": {}}, "seeds": RULE.max_seeds,
         "variants": list(VARIANTS), "rule": RULE._asdict()},
    )  # fmt: skip
    study.set_user_attr("space", {"data": {"dataset": "digits", "input_size": 8}})
    return study


def _trainer(study: optuna.Study, log: list[list[tuple[str, int]]]):  # noqa: ANN202
    def run_cells(cells: list[Cell], note: str) -> list[int]:
        have = {
            (t.user_attrs["ablation_variant"], t.user_attrs["ablation_seed"])
            for t in study.get_trials(deepcopy=False)
        }
        todo = [c for c in cells if (c.variant, c.seed) not in have]
        log.append([(c.variant, c.seed) for c in todo])
        for c in todo:
            score = _score(c.variant, c.seed)
            attrs = {**c.attrs(), "trained": True, "val_accuracy": score, "macs": 100,
                     "params": 10, "config": {"model": {"family": "csp_densenet"}}}  # fmt: skip
            study.add_trial(optuna.trial.create_trial(values=[score, 100], user_attrs=attrs))
        return [0]

    return run_cells


def test_rows_stop_when_decided_and_the_reference_stays_paired(storage_url: str) -> None:
    study, log = _study(storage_url), []
    wanted = [Cell("trial 0", v, s, {}) for v in VARIANTS for s in range(RULE.max_seeds)]
    codes = run_rounds(
        wanted, rule=RULE, first_seed=0, read=lambda: read_ablation(storage_url, "s-ablation"),
        run_cells=_trainer(study, log),
    )  # fmt: skip
    assert codes == [0, 0]  # two rounds: the looks at 3 and at 6 seeds
    assert sorted(log[0]) == sorted((v, s) for v in VARIANTS for s in range(3))
    assert sorted(log[1]) == [(v, s) for v in ("noisy", "none") for s in range(3, 6)]
    data = read_ablation(storage_url, "s-ablation")
    rows = {v.variant: v for v in data.tables[0].rows}
    assert rows["same"].verdict == "equivalent" and len(rows["same"].diffs) == 3
    assert rows["noisy"].verdict == "undecided" and len(rows["noisy"].diffs) == 6
    assert next_needs(data, RULE) == {
        ("trial 0", "same"): 3, ("trial 0", "noisy"): 6, ("trial 0", "none"): 6
    }  # fmt: skip
    # A re-run replays the same looks on the stored trials: nothing more to train.
    again: list[list[tuple[str, int]]] = []
    run_rounds(
        wanted, rule=RULE, first_seed=0, read=lambda: read_ablation(storage_url, "s-ablation"),
        run_cells=_trainer(study, again),
    )  # fmt: skip
    assert again and all(todo == [] for todo in again)
