"""``cspsearch ablate``: bad input ends in one line and exit code 2 with nothing trained; a tiny
study's ablation end to end (slow: real training), run twice (the second trains nothing)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

from cspsearch.cli import app

runner = CliRunner()


def _one_line_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["ablate", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr


@pytest.fixture
def empty_study(storage_url: str, tiny_space_file: Path) -> str:
    """A study made by cspsearch's own code, with no trial yet."""
    from cspsearch.space.loader import load_space
    from cspsearch.trials.samplers import make_sampler
    from cspsearch.trials.study import open_storage
    from cspsearch.trials.study import open_study

    space = load_space(tiny_space_file)
    open_study(space, open_storage(storage_url), "tiny", make_sampler("random", 0, space))
    return "tiny"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no study 'nope'"),
        (["tiny"], "no complete trained trial"),
        (["tiny", "--split-ratio", "0.5,1.5"], "1.5 must be in (0, 1)"),
        (["tiny", "--split-ratio", "0"], "0.0 must be in (0, 1)"),
        (["tiny", "--split-ratio", "half"], "must be numbers in (0, 1)"),
        (["tiny", "--fusion", "full,sideways"], "unknown fusion 'sideways'"),
        (["tiny", "--space", "peleenet"], "give a STUDY or --space"),
        (["tiny", "--margin", "-1"], "--margin: -1.0 must be ≥ 0 points"),
        (["tiny", "--seeds", "auto", "--min-seeds", "5", "--max-seeds", "3"], "need 2 ≤ --min"),
        (["tiny", "--seeds", "auto", "--min-seeds", "1"], "--min-seeds 1 / --max-seeds 10"),
        (["tiny", "--min-seeds", "4"], "only with --seeds auto (--seeds is 3)"),
        (["tiny", "--seeds", "0,1,2"], "--seeds: '0,1,2' must be a whole number ≥ 1, or auto"),
        (["tiny", "--seeds", "auto,5"], "--seeds: 'auto,5' must be"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    args: list[str], message: str, empty_study: str, storage_url: str
) -> None:
    _one_line_error([*args, "--storage", storage_url], message)
    trials = optuna.load_study(study_name="tiny", storage=storage_url).trials
    assert trials == []  # nothing trained


def test_neither_a_study_nor_a_space(tmp_path: Path) -> None:
    _one_line_error([], "give a STUDY or --space")
    _one_line_error(["--space", "no_such_preset"], "unknown space 'no_such_preset'")
    assert not (tmp_path / "reports").exists()


@pytest.mark.slow
def test_a_tiny_ablation_end_to_end(tiny_space_file: Path, storage_url: str) -> None:
    ran = runner.invoke(
        app, ["run", "--space", str(tiny_space_file), "--storage", storage_url, "--n-trials", "1"]
    )
    assert ran.exit_code == 0, ran.output
    args = ["ablate", "tiny", "--storage", storage_url, "--top", "1", "--fusion", "full"]
    args += ["--split-ratio", "0.25,0.5", "--seeds", "2", "--device", "cpu"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "6 trial(s) to run" in first.stderr
    assert "base trial 0" in first.stdout and "full/0.25" in first.stdout
    assert Path("reports/tiny-ablation.html").is_file()
    study = optuna.load_study(study_name="tiny-ablation", storage=storage_url)
    trials = study.trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 6
    assert study.user_attrs["n_trials"] == 6  # recorded as cspsearch run records it
    assert all(t.user_attrs["trained"] and "duplicate_of" not in t.user_attrs for t in trials)
    by_cell = {
        (t.user_attrs["ablation_variant"], t.user_attrs["ablation_seed"]): t for t in trials
    }
    assert set(by_cell) == {(v, s) for v in ("none", "full/0.25", "full/0.5") for s in (0, 1)}
    for (variant, seed), t in by_cell.items():
        config = t.user_attrs["config"]
        plain = by_cell["none", seed].user_attrs["config"]
        assert config["train"] == plain["train"] and config["train"]["seed"] == seed
        differing = {k for k in config["model"] if config["model"][k] != plain["model"][k]}
        assert differing <= {"fusion", "split_ratio"}
        assert (variant == "none") == (differing == set())
    again = runner.invoke(app, args)  # resumes: everything is complete, nothing is trained
    assert again.exit_code == 0, again.output
    assert "0 trial(s) to run" in again.stderr
    assert len(optuna.load_study(study_name="tiny-ablation", storage=storage_url).trials) == 6


@pytest.mark.slow
def test_ablate_takes_trials_per_device(tiny_space_file: Path, storage_url: str) -> None:
    """--trials-per-device K runs K workers on the CPU, as for cspsearch run."""
    ran = runner.invoke(
        app, ["run", "--space", str(tiny_space_file), "--storage", storage_url, "--n-trials", "1"]
    )
    assert ran.exit_code == 0, ran.output
    args = ["ablate", "tiny", "--storage", storage_url, "--top", "1", "--fusion", "full"]
    args += ["--split-ratio", "0.5", "--seeds", "2", "--device", "cpu", "--no-gradients"]
    done = runner.invoke(app, [*args, "--trials-per-device", "2", "--study-name", "tpd"])
    assert done.exit_code == 0, done.output
    trials = optuna.load_study(study_name="tpd", storage=storage_url).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    assert len({t.user_attrs.get("worker") for t in trials}) == 2  # two workers took trials
    refused = runner.invoke(app, [*args, "--trials-per-device", "2", "--n-workers", "2"])
    assert refused.exit_code == 2 and "give one of them" in refused.stderr


def test_help_gives_the_fewest_seeds_for_each_verdict() -> None:
    from cspsearch.sequential import smallest_pairs

    text = " ".join(runner.invoke(app, ["ablate", "--help"]).output.split())
    text = text.replace("│ ", "").replace(" │", "")
    for verdict, words in (("equivalent", "equivalent (Δ 0)"),
                           ("non-inferior", "non-inferior (Δ +1)"),
                           ("better", "better or worse (Δ ±1)")):  # fmt: skip
        floor = "/".join(str(smallest_pairs(verdict, k)) for k in (1, 9, 27))
        noisy = "/".join(str(smallest_pairs(verdict, k, sd=1.0)) for k in (1, 9, 27))
        assert f"{words} {floor} ({noisy})" in text, (verdict, floor, noisy)


def test_report_refuses_a_negative_margin(empty_study: str, storage_url: str) -> None:
    result = runner.invoke(
        app, ["report", empty_study, "--storage", storage_url, "--margin", "-2"]
    )
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "--margin: -2.0 must be ≥ 0 points" in result.stderr


@pytest.mark.slow
def test_seeds_auto_end_to_end(tiny_space_file: Path, storage_url: str, tmp_path: Path) -> None:
    """Real training in rounds: every row stops at a look (2 or 4 seeds), the reference has its
    base's most; the rule is stored and shown; a re-run trains nothing; --json has verdicts."""
    import json

    ran = runner.invoke(
        app, ["run", "--space", str(tiny_space_file), "--storage", storage_url, "--n-trials", "1"]
    )
    assert ran.exit_code == 0, ran.output
    args = ["ablate", "tiny", "--storage", storage_url, "--top", "1", "--fusion", "full"]
    args += ["--split-ratio", "0.25,0.5", "--device", "cpu", "--no-gradients"]
    args += ["--seeds", "auto", "--min-seeds", "2", "--max-seeds", "4", "--margin", "2"]
    first = runner.invoke(app, [*args, "--json", str(tmp_path / "rows.json")])
    assert first.exit_code == 0, first.output
    assert "round 1" in first.stderr and "margin ±2 pp; seeds auto 2-4" in first.stdout
    study = optuna.load_study(study_name="tiny-ablation", storage=storage_url)
    assert study.user_attrs["ablation"]["rule"]["max_seeds"] == 4
    seeds: dict[str, set[int]] = {}
    for t in study.trials:
        assert t.state.name == "COMPLETE"
        seeds.setdefault(t.user_attrs["ablation_variant"], set()).add(
            t.user_attrs["ablation_seed"]
        )
    counts = {v: len(s) for v, s in seeds.items()}
    assert set(counts) == {"none", "full/0.25", "full/0.5"}
    assert all(seeds[v] == set(range(counts[v])) for v in counts)  # seeds 0.., no gaps
    assert {counts["full/0.25"], counts["full/0.5"]} <= {2, 4}  # the looks
    assert counts["none"] == max(counts["full/0.25"], counts["full/0.5"])
    rows = json.loads((tmp_path / "rows.json").read_text(encoding="utf-8"))
    by = {r["variant"]: r for r in rows["rows"] if r["base"] != "pooled"}
    assert by["none"]["verdict"] == "reference" and by["none"]["family"] is None
    scores = {(t.user_attrs["ablation_variant"], t.user_attrs["ablation_seed"]):
              100 * t.user_attrs["val_accuracy"] for t in study.trials}  # fmt: skip
    for v in ("full/0.25", "full/0.5"):
        row = by[v]
        diffs = [scores[v, s] - scores["none", s] for s in range(counts[v])]
        assert row["pairs"] == len(diffs) and row["family"] == 2 and row["df"] == len(diffs) - 1
        assert row["difference_pp"] == pytest.approx(sum(diffs) / len(diffs))
        low, high = row["difference_low_pp"], row["difference_high_pp"]
        assert high - low > 0 and row["interval_level"] < 1
        said = {  # the verdict read back from the row's own interval (margin 2)
            "equivalent": low > -2 and high < 2, "better": low > 0, "worse": high < 0,
            "non-inferior": low > -2, "undecided": low <= -2 and low <= 0 <= high,
        }  # fmt: skip
        assert said[row["verdict"]], row
    again = runner.invoke(app, args)  # resumes: the same looks on the stored trials
    assert again.exit_code == 0, again.output
    assert "round 1" in again.stderr and " 0 trial(s) to run" in again.stderr
    assert len(optuna.load_study(study_name="tiny-ablation", storage=storage_url).trials) == len(
        study.trials
    )
