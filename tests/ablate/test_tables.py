"""The ablation report (Table 1 per base, pooled effects) on fixed per-seed numbers, the
expected figures computed here with scipy.stats (not with cspsearch.stats); the page and its
gradient-duplication column; the ``report`` command's switch."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from scipy import stats as sp
from typer.testing import CliRunner

from cspsearch.ablate.page import render
from cspsearch.ablate.read import read_ablation
from cspsearch.ablate.text import format_study
from cspsearch.cli import app
from cspsearch.errors import StudyError
from cspsearch.stats import interval

# base → variant → (MACs, conv MACs, params, per-seed accuracies)
NUMBERS = {
    "trial 1": {
        "none": (1000, 800, 100, [0.80, 0.82, 0.84]),
        "full/0.5": (900, 700, 90, [0.83, 0.85, 0.86]),
        "last/0.5": (800, 640, 80, [0.70, 0.72, 0.75]),
    },
    "trial 4": {
        "none": (2000, 1600, 200, [0.90, 0.88, 0.91]),
        "full/0.5": (1700, 1400, 190, [0.90, 0.89, 0.90]),
        "last/0.5": (1500, 1200, 150, [0.86, 0.85, 0.88]),
    },
}


def _study(
    storage: str,
    gradients: bool | str = False,
    family: str = "csp_densenet",
    rule: dict | None = None,
) -> str:
    """The study of NUMBERS; ``gradients``: every variant records gradient duplication, or
    only the one named; ``rule``: the stored ablation rule (e.g. --seeds auto's)."""
    study = optuna.create_study(
        study_name="s-ablation", storage=storage, directions=["maximize", "minimize"]
    )
    study.set_metric_names(["val_accuracy", "macs"])
    study.set_user_attr(
        "ablation",
        {"source": "s", "bases": {b: {} for b in NUMBERS}, "seeds": 3,
         "variants": ["none", "full/0.5", "last/0.5"], **({"rule": rule} if rule else {})},
    )  # fmt: skip
    study.set_user_attr("space", {"data": {"dataset": "digits", "input_size": 8}})
    for base, variants in NUMBERS.items():
        for k, (variant, (macs, conv, params, scores)) in enumerate(variants.items()):
            for seed, score in enumerate(scores):
                attrs = {
                    "ablation_base": base, "ablation_variant": variant, "ablation_seed": seed,
                    "trained": True, "val_accuracy": score, "macs": macs, "params": params,
                    "macs_by_operator": {"conv": conv}, "config": {"model": {"family": family}},
                }  # fmt: skip
                if gradients is True or gradients == variant:
                    attrs["gradient_duplication"] = 0.1 * k + 0.01 * seed
                study.add_trial(optuna.trial.create_trial(values=[score, macs], user_attrs=attrs))
    return "s-ablation"


def test_table_one_numbers_come_from_the_paired_statistics(storage_url: str) -> None:
    data = read_ablation(storage_url, _study(storage_url))
    assert [t.base for t in data.tables] == ["trial 1", "trial 4"] and data.trials == 18
    rows = {v.variant: v for v in data.tables[0].rows}
    none, full = NUMBERS["trial 1"]["none"][3], NUMBERS["trial 1"]["full/0.5"][3]
    assert rows["full/0.5"].score == interval(full)
    change = rows["full/0.5"].change  # diffs 3, 3, 2 points; two rows tested: α/2 each
    diffs = [100 * (y - x) for x, y in zip(none, full)]
    low, high = sp.t.interval(1 - 0.05 / 2, 2, loc=sum(diffs) / 3, scale=sp.sem(diffs))
    assert (change.diff.low, change.diff.high) == (pytest.approx(low), pytest.approx(high))
    assert change.p_difference == pytest.approx(2 * sp.ttest_1samp(diffs, 0).pvalue)
    assert change.verdict == "better" and change.kind == "difference" and change.family == 2
    assert rows["last/0.5"].change.verdict == "worse"
    assert rows["none"].change is None and rows["none"].macs_change == 0
    assert rows["full/0.5"].macs_change == pytest.approx(-10.0)
    assert rows["last/0.5"].params_change == pytest.approx(-20.0)
    assert rows["full/0.5"].paper is None and not data.has_gradient
    # pooled: every (base, seed) pair of both bases together
    pooled = {v.variant: v for v in data.pooled}
    a = none + NUMBERS["trial 4"]["none"][3]
    b = full + NUMBERS["trial 4"]["full/0.5"][3]
    pooled_diffs = [100 * (y - x) for x, y in zip(a, b)]
    assert pooled["full/0.5"].diffs == pytest.approx(pooled_diffs)
    assert pooled["full/0.5"].change.diff.n == 6
    assert pooled["full/0.5"].change.statistic == pytest.approx(
        sp.ttest_1samp(pooled_diffs, 0).statistic
    )
    assert pooled["full/0.5"].macs_change == pytest.approx((-10.0 - 15.0) / 2)
    text = format_study(data)
    assert "base trial 4" in text and "pooled over the bases" in text
    assert f"{sum(diffs) / 3:+.1f} [{low:+.1f}, {high:+.1f}]" in text  # +2.7 [+0.6, +4.7]
    assert "97.5%" in text and "2 of 2 rows tested; Bonferroni over 2 rows" in text


def test_a_peleenet_base_shows_the_papers_numbers(storage_url: str) -> None:
    data = read_ablation(storage_url, _study(storage_url, family="csp_peleenet"))
    rows = {v.variant: v for v in data.tables[0].rows}
    assert rows["full/0.5"].paper == (-13.0, 0.2) and rows["last/0.5"].paper == (-21.0, -0.1)
    assert rows["full/0.5"].conv_change == pytest.approx(-12.5)
    assert "paper compute" in format_study(data) and "-13%" in format_study(data)


def test_gradient_duplication_stands_beside_accuracy(storage_url: str) -> None:
    data = read_ablation(storage_url, _study(storage_url, gradients=True))
    rows = {v.variant: v for v in data.tables[0].rows}
    assert data.has_gradient
    assert rows["last/0.5"].gradient == interval([0.2, 0.21, 0.22])
    assert "gradient dup." in format_study(data)
    page = render(data)
    assert "gradient dup." in page and "Gradient duplication" in page
    assert page.count("<script") >= 2 and "better" in page  # plotly once, then the figures


def test_a_plain_study_is_no_ablation_study(storage_url: str) -> None:
    optuna.create_study(study_name="plain", storage=storage_url)
    with pytest.raises(StudyError, match="not an ablation study"):
        read_ablation(storage_url, "plain")


def test_report_writes_the_ablation_page(storage_url: str, tmp_path: Path) -> None:
    name = _study(storage_url)
    result = CliRunner().invoke(app, ["report", name, "--storage", storage_url])
    assert result.exit_code == 0, result.output
    page = (tmp_path / "reports" / f"{name}.html").read_text(encoding="utf-8")
    assert "Base trial 1" in page and "Pooled over the bases" in page
    assert "Δ accuracy pp vs none, by seed" in page


def test_verdicts_are_decided_per_table_with_the_margin(storage_url: str) -> None:
    name = _study(storage_url)
    data = read_ablation(storage_url, name)
    rows = {v.variant: v for v in data.tables[0].rows}
    assert rows["full/0.5"].diffs == pytest.approx((3.0, 3.0, 2.0))
    assert rows["full/0.5"].verdict == "better" and rows["last/0.5"].verdict == "worse"
    assert data.rule.resolution == pytest.approx(1.0)  # the scores are whole hundredths
    assert "margin ±1 pp" in format_study(data) and "Bonferroni" in format_study(data)
    wide = read_ablation(storage_url, name, margin=5.0)  # re-analysed, nothing retrained
    full = {v.variant: v for v in wide.tables[0].rows}["full/0.5"]
    # The equivalence test's interval: 1 − 2α/2 (each bound one-sided at α/2), inside ±5.
    low, high = sp.t.interval(1 - 0.05, 2, loc=8 / 3, scale=sp.sem([3.0, 3.0, 2.0]))
    assert full.verdict == "equivalent" and full.change.level == pytest.approx(0.95)
    assert full.change.diff.low == pytest.approx(low)
    assert full.change.diff.high == pytest.approx(high)
    assert "verdict (±5 pp, Bonferroni)" in format_study(wide)


def test_the_gradient_figure_needs_a_variant_besides_the_reference(storage_url: str) -> None:
    data = read_ablation(storage_url, _study(storage_url, gradients="none"))
    assert data.has_gradient and not data.gradient_compared
    assert "Gradient duplication" not in render(data)  # one bar alone would compare nothing


def test_an_auto_study_says_where_rows_stopped_and_what_its_pooled_table_covers(
    storage_url: str,
) -> None:
    rule = {"margin": 1.0, "alpha": 0.05, "min_seeds": 3, "max_seeds": 10}
    data = read_ablation(storage_url, _study(storage_url, rule=rule))
    assert data.kind == "csp" and data.rule.min_seeds == 3
    rows = {v.variant: v for t in data.tables for v in t.rows if t.base == "trial 4"}
    # trial 4's full/0.5 (diffs 0, +1, −1) is undecided at its first look and has no more
    # seeds: it waits for the look at 6, and says so.
    assert rows["full/0.5"].verdict == "undecided (stopped at 3 of 10)"
    assert rows["full/0.5"].change.family == 2 and rows["full/0.5"].change.alpha < 0.01
    text = format_study(data)
    assert "its ≤ α familywise error is not guaranteed" in text
    assert "undecided (stopped at 3 of 10)" in render(data)
