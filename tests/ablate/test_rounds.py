"""``--seeds auto`` round by round (cspsearch/ablate/rounds.py) on a real Optuna storage: rows
the sequential rule decides stop, undecided ones get the next look's seeds, the reference
keeps up with its base's most-seeded row, and a re-run queues and trains nothing. The cells
take ``cspsearch ablate``'s own path (queued, claimed, settled); only their per-seed scores
are planted (the trainer is the slow CLI test's business: tests/cli/test_ablate.py)."""

from __future__ import annotations

from pathlib import Path

import optuna

from cspsearch.ablate.grid import Cell
from cspsearch.ablate.read import read_ablation
from cspsearch.ablate.rounds import next_needs
from cspsearch.ablate.rounds import run_rounds
from cspsearch.ablate.run import run_once
from cspsearch.ablate.tables import Rule
from cspsearch.trials.attrs import set_user_attrs
from cspsearch.trials.queued import run_queued
from cspsearch.trials.study import open_storage

RULE = Rule(margin=5.0, min_seeds=3, max_seeds=6)  # looks at 3 and 6 seeds
VARIANTS = ("none", "same", "noisy")


def _score(variant: str, seed: int) -> float:
    """none: 0.80 (+0.1 point a seed); same: ±0.1 point of none; noisy: ±10 points."""
    none = 0.80 + 0.001 * seed
    sign = 1 if seed % 2 == 0 else -1
    return {"none": none, "same": none + 0.001 * sign, "noisy": none + 0.1 * sign}[variant]


def _study(storage: optuna.storages.BaseStorage) -> optuna.Study:
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


def _trainer(study: optuna.Study, log: list[list[tuple[str, int]]], queued: list[int]):  # noqa: ANN202
    """``cspsearch ablate``'s own path (ablate/run.py's run_once: queue, claim, settle) with
    the training planted: a claimed cell scores ``_score(variant, seed)``."""

    def planted(trial: optuna.Trial) -> tuple[float, float]:
        variant, seed = trial.user_attrs["ablation_variant"], trial.user_attrs["ablation_seed"]
        log[-1].append((variant, seed))
        score = _score(variant, seed)
        attrs = {"trained": True, "val_accuracy": score, "macs": 100, "params": 10,
                 "config": {"model": {"family": "csp_densenet"}}}  # fmt: skip
        set_user_attrs(trial, attrs)
        return score, 100

    def run_waiting(n: int) -> list[int]:
        queued.append(n)
        run_queued(study, planted, None)
        return [0]

    def run_cells(cells: list[Cell], note: str) -> list[int]:
        log.append([])
        return run_once(study, cells, run_waiting)

    return run_cells


def test_rows_stop_when_decided_and_the_reference_stays_paired(tmp_path: Path) -> None:
    storage = open_storage(str(tmp_path / "s.log"))  # a Journal file, as across machines
    study, log, queued = _study(storage), [], []
    wanted = [Cell("trial 0", v, s, {}) for v in VARIANTS for s in range(RULE.max_seeds)]
    codes = run_rounds(
        wanted, rule=RULE, first_seed=0, read=lambda: read_ablation(storage, "s-ablation"),
        run_cells=_trainer(study, log, queued),
    )  # fmt: skip
    assert codes == [0, 0] and queued == [9, 6]  # two rounds: the looks at 3 and at 6 seeds
    assert sorted(log[0]) == sorted((v, s) for v in VARIANTS for s in range(3))
    assert sorted(log[1]) == [(v, s) for v in ("noisy", "none") for s in range(3, 6)]
    data = read_ablation(storage, "s-ablation")
    rows = {v.variant: v for v in data.tables[0].rows}
    assert rows["same"].verdict == "equivalent" and len(rows["same"].diffs) == 3
    assert rows["noisy"].verdict == "undecided" and len(rows["noisy"].diffs) == 6
    assert next_needs(data, RULE) == {
        ("trial 0", "same"): 3, ("trial 0", "noisy"): 6, ("trial 0", "none"): 6
    }  # fmt: skip
    # The looks use the step the scores were measured in, as the printed table does: with a
    # coarse step (20 points) the floored sd leaves "same" undecided at 3 seeds.
    coarse = data._replace(rule=data.rule._replace(resolution=20.0))
    assert next_needs(coarse, RULE)["trial 0", "same"] == 6
    # A re-run replays the same looks on the stored trials: nothing is queued or trained.
    again: list[list[tuple[str, int]]] = []
    queued_again: list[int] = []
    run_rounds(
        wanted, rule=RULE, first_seed=0, read=lambda: read_ablation(storage, "s-ablation"),
        run_cells=_trainer(study, again, queued_again),
    )  # fmt: skip
    assert again == [[], []] and queued_again == [0, 0] and len(study.trials) == 15
