"""Statistics that cannot be inflated: duplicates and early-stopped trials leave every table,
interval, importance and Pareto set as it was; overlays share one hypervolume reference; an
adjusted factor effect separates a factor from the one it is confounded with."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from cspsearch.report import collect
from cspsearch.report import write_report
from cspsearch.report.collect import TrialRow
from cspsearch.report.factors import factor_tables
from cspsearch.report.factors import paired_comparisons
from cspsearch.report.figures import hypervolume_figure
from cspsearch.report.figures import pareto_figure
from cspsearch.report.hypervolume import hypervolume_history


def row(number: int, acc: float, macs: int, **kw: Any) -> TrialRow:
    """An evaluated trial; ``dup``/``stopped`` make it a duplicate or an early-stopped one."""
    dup, stopped = kw.pop("dup", None), kw.pop("stopped", None)
    extra = {"stopped_at": stopped} if stopped is not None else {}
    return TrialRow(
        number=number,
        state="complete",
        params=kw,
        config={},
        values={"val_accuracy": acc, "macs": macs},
        score=acc,
        test_score=acc,
        macs=macs,
        flops=2 * macs,
        n_params=10 * macs,
        latency_ms=None,
        fusion=kw.get("fusion", "none"),
        evaluated=True,
        infeasible="",
        fail_reason="",
        duplicate_of=dup,
        seconds=1.0,
        **extra,
    )


BASE = [
    row(0, 0.90, 100, fusion="none", depth=1),
    row(1, 0.94, 200, fusion="none", depth=2),
    row(2, 0.93, 80, fusion="last", split_ratio=0.5, depth=1),
    row(3, 0.85, 160, fusion="last", split_ratio=0.5, depth=2),
    row(4, 0.88, 70, fusion="first", split_ratio=0.25, depth=1),
    row(5, 0.91, 140, fusion="first", split_ratio=0.5, depth=2),
]


def test_duplicates_change_no_table_or_interval() -> None:
    copies = [
        row(10 + k, 0.93, 80, fusion="last", split_ratio=0.5, depth=1, dup=2) for k in range(4)
    ]
    before, after = factor_tables(BASE), factor_tables(BASE + copies)
    # The numbers: two architectures (0.93, 0.85) give [0.38, 1.40]; four copies of the
    # first would narrow it to [0.88, 0.95]. Each architecture counts once.
    last = next(lv for lv in after["fusion"] if lv.level == "last")
    assert last.metric.n == 2
    assert (last.metric.low, last.metric.high) == (
        pytest.approx(0.382, abs=1e-3),
        pytest.approx(1.398, abs=1e-3),
    )
    assert after == before
    assert paired_comparisons(BASE + copies) == paired_comparisons(BASE)


def test_an_early_stopped_trial_changes_no_table() -> None:
    # Stopped at epoch 1 with a partial 0.40: it would drag "full" and depth 1 down.
    stopped = row(9, 0.40, 60, fusion="full", split_ratio=0.25, depth=1, stopped=1)
    assert factor_tables([*BASE, stopped]) == factor_tables(BASE)
    assert paired_comparisons([*BASE, stopped]) == paired_comparisons(BASE)
    assert "full" not in {lv.level for lv in factor_tables([*BASE, stopped])["fusion"]}


def _study(storage: Any, name: str, trials: list[tuple[str, int, float, int, dict]]) -> None:
    study = optuna.create_study(
        storage=storage, study_name=name, directions=["maximize", "minimize"]
    )
    study.set_metric_names(["val_accuracy", "macs"])
    dist = {
        "fusion": CategoricalDistribution(["none", "first", "last", "full"]),
        "depth": CategoricalDistribution([1, 2, 3]),
    }
    for fusion, depth, acc, macs, attrs in trials:
        study.add_trial(
            create_trial(
                values=[acc, macs],
                params={"fusion": fusion, "depth": depth},
                distributions=dist,
                user_attrs={
                    "trained": True,
                    "val_accuracy": acc,
                    "macs": macs,
                    "config": {"model": {"fusion": [fusion] * 2}},
                    **attrs,
                },
                system_attrs={"constraints:macs": -1.0},
            )
        )


TRIALS = [
    ("none", 1, 0.90, 100, {}),
    ("last", 1, 0.91, 80, {}),
    ("first", 2, 0.86, 90, {}),
    ("none", 2, 0.94, 200, {}),
    ("last", 3, 0.95, 240, {}),
    ("first", 3, 0.92, 180, {}),
]


def test_collect_counts_each_architecture_once_and_stopped_ones_apart(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    _study(storage, "clean", TRIALS)
    extra = [
        # Four copies of the best and a cheap early-stopped trial (partial 0.30 at 10 MACs:
        # it would be the cheap end of the front).
        *[("last", 3, 0.95, 240, {"duplicate_of": 4})] * 4,
        ("full", 1, 0.30, 10, {"stopped_at_epoch": 1}),
    ]
    _study(storage, "mixed", TRIALS + extra)
    clean, mixed = collect(storage, "clean"), collect(storage, "mixed")
    assert mixed.importances == clean.importances and clean.importances
    without = collect(storage, "clean", importances=False)  # what a run's figures read
    assert without.importances == {} and without.rows == clean.rows
    front = [r.number for r in mixed.rows if r.pareto]
    assert front == [r.number for r in clean.rows if r.pareto] and 10 not in front
    assert factor_tables(mixed.rows) == factor_tables(clean.rows)
    assert hypervolume_history(mixed)[1][-1] == hypervolume_history(clean)[1][-1]
    # Shown apart: greyed in the front figure, counted in the header.
    names = [t.name for t in pareto_figure([mixed]).data]
    assert "stopped early (partial accuracy, not in statistics)" in names
    page = write_report(mixed, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "1 stopped early, not in statistics" in page
    assert "4 repeats of an earlier architecture (counted once)" in page
    assert "stopped early at epoch 1: partial, not in statistics" in page


def test_an_overlay_uses_one_reference_point(tmp_path: Path) -> None:
    storage = optuna.storages.InMemoryStorage()
    _study(storage, "a", [("none", 1, 0.9, 100, {})])
    _study(storage, "b", [("none", 1, 0.8, 300, {})])
    a, b = collect(storage, "a"), collect(storage, "b")
    fig = hypervolume_figure([a, b])
    # One reference for both: accuracy 0, MACs 1.1 × 300 = 330 (the larger of the two).
    assert fig.data[0].y[-1] == pytest.approx(0.9 * (330 - 100))
    assert fig.data[1].y[-1] == pytest.approx(0.8 * (330 - 300))
    assert "macs 330" in fig.layout.title.text and "shared by all studies" in fig.layout.title.text


def _confounded(seed: int = 0) -> list[TrialRow]:
    """Depth drives accuracy (+5 points per level); fusion does nothing, but the sampler gave
    fusion=last mostly to deep networks and fusion=first mostly to shallow ones."""
    rng, rows = random.Random(seed), []
    for n in range(60):
        depth = 1 + n % 3
        last = rng.random() < (0.1, 0.5, 0.9)[depth - 1]
        acc = 0.80 + 0.05 * depth + rng.gauss(0, 0.01)
        rows.append(row(n, acc, 100 * depth, fusion="last" if last else "first", depth=depth))
    return rows


def test_adjusted_effect_recovers_a_confounded_factor() -> None:
    tables = factor_tables(_confounded(seed=1))
    first, last = tables["fusion"]
    assert first.reference and last.level == "last"
    # The raw averages show fusion=last several points ahead; it is depth's effect.
    assert last.delta_metric_pp > 3
    assert abs(last.adjusted.mean) < 1 and last.adjusted.low < 0 < last.adjusted.high
    # No effect, and an interval this narrow decides it: equivalent within ±1 point; without
    # a margin only "undecided" is left.
    assert last.adjusted.low > -1 and last.adjusted.high < 1 and last.verdict == "equivalent"
    assert factor_tables(_confounded(seed=1), margin=0)["fusion"][1].verdict == "undecided"
    d1, d2, d3 = tables["depth"]
    assert d2.adjusted.mean == pytest.approx(5, abs=1)
    assert d3.adjusted.mean == pytest.approx(10, abs=1)
    assert d2.verdict == d3.verdict == "better"
    # Over 40 such searches: the raw change is always ≈ +5 points, the adjusted one ≈ 0 and
    # called better or worse about 5% of the time (a 95% interval misses zero once in 20).
    levels = [factor_tables(_confounded(seed))["fusion"][1] for seed in range(40)]
    assert min(lv.delta_metric_pp for lv in levels) > 3
    assert abs(sum(lv.adjusted.mean for lv in levels) / 40) < 0.3
    assert sum(lv.verdict not in ("better", "worse") for lv in levels) >= 34


def test_fusion_against_the_plain_network_is_adjusted_over_gamma() -> None:
    # Depth drives accuracy; CSP trials are deeper than the plain ones; fusion and γ do nothing.
    rng, rows = random.Random(1), []
    for n in range(60):
        depth = 1 + n % 3
        csp = rng.random() < (0.2, 0.6, 0.9)[depth - 1]
        acc = 0.80 + 0.05 * depth + rng.gauss(0, 0.01)
        params: dict[str, Any] = {"fusion": "none", "depth": depth}
        if csp:
            params = {
                "fusion": rng.choice(["first", "last"]),
                "split_ratio": rng.choice([0.25, 0.5]),
                "depth": depth,
            }
        rows.append(row(n, acc, 100 * depth, **params))
    tables = factor_tables(rows)
    for factor in ("fusion", "split_ratio"):
        for lv in tables[factor]:
            if not lv.reference:
                assert lv.adjusted is not None, (factor, lv.level)
                assert lv.verdict not in ("better", "worse"), (factor, lv.level, lv.adjusted)
    assert any(lv.delta_metric_pp > 2 for lv in tables["fusion"] if not lv.reference)


def test_the_factor_section_labels_raw_changes_and_points_to_ablate(tmp_path: Path) -> None:
    storage = optuna.storages.InMemoryStorage()
    _study(storage, "s", TRIALS)
    page = write_report(collect(storage, "s"), tmp_path / "r.html").read_text(encoding="utf-8")
    assert "raw change vs reference (averages, not an effect)" in page and "raw: " in page
    assert "adjusted Δ (points)" in page and "least squares over all searched factors" in page
    assert "For a controlled answer run `cspsearch ablate STUDY`" in page
    assert "p (H0: Δ = 0, adjusted)" in page
    assert "equivalent within ±1 points (TOST)" in page and "each family of k (α/k)" in page
    wide = write_report(collect(storage, "s"), tmp_path / "w.html", margin=2.5)
    assert "equivalent within ±2.5 points" in wide.read_text(encoding="utf-8")
    none = write_report(collect(storage, "s"), tmp_path / "n.html", margin=0)
    assert "better / worse / undecided by a paired t-test" in none.read_text(encoding="utf-8")


def test_a_study_that_searches_the_block_is_coloured_by_block() -> None:
    from cspsearch.report.figures import _groups

    rows = [
        row(0, 0.90, 100, fusion="none", block="csp"),
        row(1, 0.91, 80, fusion="full", block="c2f"),
        row(2, 0.92, 90, fusion="full", block="c2f"),
        row(3, 0.93, 70, fusion="last", block="csp"),
    ]
    groups = {name: [r.number for r in group] for name, group, _, _ in _groups(rows)}
    assert groups == {"baseline (fusion=none)": [0], "block=c2f": [1, 2], "block=csp": [3]}
    plain = {name for name, *_ in _groups(BASE)}  # no block searched: by fusion, as before
    assert plain == {"baseline (fusion=none)", "fusion=first", "fusion=last"}
