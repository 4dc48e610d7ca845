"""latency_ort in the block ablation's tables: per variant the median of its trials and its
change against the base's own block, in the printed table, the JSON rows and the page, read from
a real Optuna storage; a study whose trials did not measure it shows no such column."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from cspsearch.ablate.page import render
from cspsearch.ablate.read import read_ablation
from cspsearch.ablate.rows import write_json
from cspsearch.ablate.text import format_study

# base → variant → (MACs, per-seed latency_ort ms, per-seed accuracies); the base's own block
# is c2f. trial 1's base has one odd seed: the median (2.0) is not the mean (2.2) nor the last.
NUMBERS = {
    "trial 1": {
        "base": (1000, [2.0, 2.6, 2.0], [0.80, 0.82, 0.84]),
        "c3": (900, [1.5, 1.5, 1.5], [0.81, 0.82, 0.86]),
        "elan": (1200, [2.5, 2.5, 2.5], [0.78, 0.80, 0.83]),
    },
    "trial 4": {
        "base": (2000, [4.0, 4.0, 4.0], [0.90, 0.88, 0.91]),
        "c3": (1800, [3.6, 3.6, 3.6], [0.90, 0.89, 0.90]),
        "elan": (2400, [4.4, 4.4, 4.4], [0.86, 0.85, 0.88]),
    },
}


def _study(storage: str, latency: bool = True) -> str:
    """The block ablation of NUMBERS, its trials with ``latency_ort`` when ``latency``."""
    study = optuna.create_study(
        study_name="y-ablation", storage=storage, directions=["maximize", "minimize"]
    )
    study.set_metric_names(["val_accuracy", "macs"])
    study.set_user_attr(
        "ablation",
        {"source": "y", "bases": {b: {} for b in NUMBERS}, "seeds": 3, "kind": "block",
         "reference": "base", "variants": ["base", "c3", "elan"]},
    )  # fmt: skip
    study.set_user_attr("space", {"data": {"dataset": "digits", "input_size": 8}})
    for base, variants in NUMBERS.items():
        for variant, (macs, latencies, scores) in variants.items():
            block = "c2f" if variant == "base" else variant
            for seed, (ms, score) in enumerate(zip(latencies, scores)):
                attrs = {
                    "ablation_base": base, "ablation_variant": variant, "ablation_seed": seed,
                    "trained": True, "val_accuracy": score, "macs": macs, "params": 10,
                    "config": {"model": {"family": "csp_yolo", "block": [block, block]}},
                }  # fmt: skip
                if latency:
                    attrs["latency_ort"] = ms
                study.add_trial(optuna.trial.create_trial(values=[score, macs], user_attrs=attrs))
    return "y-ablation"


def _line(text: str, table: str, variant: str) -> list[str]:
    """The cells of ``variant``'s row in the table whose heading starts with ``table``."""
    rows = text.split("\n\n" + table, 1)[1].split("\n\n", 1)[0].splitlines()
    return next(r.split() for r in rows if r.startswith(variant + " "))


def test_latency_ort_and_its_change_against_the_base(storage_url: str, tmp_path: Path) -> None:
    data = read_ablation(storage_url, _study(storage_url))
    assert data.kind == "block" and data.has_latency_ort
    rows = {v.variant: v for v in data.tables[0].rows}
    assert rows["base"].latency_ort == 2.0 and rows["base"].latency_change == 0
    assert rows["c3"].latency_ort == 1.5 and rows["c3"].latency_change == pytest.approx(-25.0)
    assert rows["elan"].latency_change == pytest.approx(25.0)
    pooled = {v.variant: v for v in data.pooled}
    assert pooled["c3"].latency_change == pytest.approx((-25.0 - 10.0) / 2)
    assert pooled["c3"].latency_ort == pytest.approx((1.5 + 3.6) / 2)  # median of six trials

    text = format_study(data)
    assert "latency_ort ms" in text and "latency_ort vs base" in text
    assert _line(text, "base trial 1", "c3")[1:5] == ["-10.0%", "+0.0%", "1.500", "-25.0%"]
    assert _line(text, "base trial 1", "base")[3:5] == ["2.000", "+0.0%"]
    assert _line(text, "base trial 4", "elan")[3:5] == ["4.400", "+10.0%"]
    assert _line(text, "pooled", "c3")[3:5] == ["2.550", "-17.5%"]

    document = json.loads(write_json(data, tmp_path / "rows.json").read_text(encoding="utf-8"))
    by = {(r["base"], r["variant"]): r for r in document["rows"]}
    assert by["trial 1", "c3"]["latency_ort_ms"] == 1.5
    assert by["trial 1", "c3"]["latency_ort_change_pct"] == pytest.approx(-25.0)
    assert by["trial 4", "base"]["latency_ort_change_pct"] == 0
    assert by["pooled", "elan"]["latency_ort_change_pct"] == pytest.approx(17.5)

    page = render(data)
    assert "<th class=''>latency_ort ms</th><th class=''>latency_ort vs base</th>" in page
    assert "<td class=''>1.500</td><td class=''>-25.0%</td>" in page
    assert "<td class=''>4.400</td><td class=''>+10.0%</td>" in page


def test_a_study_without_latency_ort_has_no_column(storage_url: str, tmp_path: Path) -> None:
    data = read_ablation(storage_url, _study(storage_url, latency=False))
    assert not data.has_latency_ort and data.tables[0].rows[1].latency_change is None
    assert "latency_ort" not in format_study(data)
    assert "latency_ort" not in render(data)
    document = json.loads(write_json(data, tmp_path / "rows.json").read_text(encoding="utf-8"))
    assert all("latency_ort_ms" not in r for r in document["rows"])
    assert _line(format_study(data), "base trial 1", "c3")[1:4] == ["-10.0%", "+0.0%", "83.0"]
