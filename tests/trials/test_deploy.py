"""latency_ort on a real tiny csp_yolo study (objective, budget, cached per architecture), the
front exported with ``cspsearch export --onnx`` and loaded by a plain ONNX Runtime session, and
an architecture ONNX cannot express (its trial fails with the reason, the study goes on), and
the bad inputs: an unknown trial, a study without trained trials, the missing extra."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import optuna
import pytest
import torch
from typer.testing import CliRunner

from cspsearch.cli import app
from cspsearch.models.registry import FAMILIES
from cspsearch.space.configs import ModelConfig
from tests.conftest import write_space

runner = CliRunner()
SPACE = """
model:
  family: csp_yolo
  num_stages: 2
  stem_width: 8
  stride: [1, 2]
  block: {choices: [csp, c2f]}
  out_chs: 16
  depth: 1
  fusion: full
  tail: sppf
  activation: silu
train: {epochs: 1, batch_size: 128, precise_bn: 0}
data: {input_size: 8}
objectives: {val_accuracy: maximize, latency_ort: minimize}
budget: {latency_ort: BUDGET}
measure: {ort_threads: 1}
study: {n_trials: 2, sampler: grid}
"""


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Two trials (the two blocks), their weights kept as artifacts."""
    folder = tmp_path_factory.mktemp("deploy")
    space = write_space(folder, SPACE.replace("BUDGET", "1000"), "yolo")
    url = f"sqlite:///{folder / 's.db'}"
    code, _, err = _invoke(
        "run", "--space", str(space), "--storage", url, "--artifacts", str(folder / "art"),
        "--n-workers", "1",
    )  # fmt: skip
    assert code == 0, err
    return folder, url


@pytest.mark.slow
def test_latency_ort_is_the_second_objective(study: tuple[Path, str]) -> None:
    _, url = study
    trials = optuna.load_study(study_name="yolo", storage=url).trials
    for t in trials:
        assert t.values[1] == t.user_attrs["latency_ort"] > 0
        assert t.user_attrs["ort_threads"] == 1
        assert t.constraints == {"latency_ort": pytest.approx(t.values[1] - 1000)}
    assert {t.params["block"] for t in trials} == {"csp", "c2f"}


@pytest.mark.slow
def test_export_writes_files_a_plain_session_runs(study: tuple[Path, str]) -> None:
    folder, url = study
    out = folder / "onnx"
    art = str(folder / "art")
    code, stdout, err = _invoke(
        "export", "yolo", "--storage", url, "--onnx", str(out), "--artifacts", art,
        "--latency-s", "0.2",
    )  # fmt: skip
    assert code == 0, err
    files = sorted(out.glob("*.onnx"))
    assert files and len(stdout.splitlines()) == len(files)
    for path, line in zip(files, stdout.splitlines()):
        check = json.loads(path.with_suffix(".json").read_text())
        assert check["ok"] and check["weights"] == "trained" and check["outputs"] == "logits"
        # Timed over the window asked for, at the threads the study measured with.
        timed = check["latency_ort"]
        assert timed["threads"] == 1 and timed["window_s"] == 0.2 and timed["runs"] >= 10
        assert 0 < timed["min_ms"] <= timed["p10_ms"] <= timed["median_ms"] <= timed["p90_ms"]
        assert f"{timed['median_ms']:.3g} ms in ONNX Runtime (batch 1, 1 thread;" in line
        assert timed["timed_in_turns_with"] == len(files) - 1 and timed["relative_to_fastest"] >= 1
        plain = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (logits,) = plain.run(None, {"input": np.zeros((5, 1, 8, 8), np.float32)})
        assert logits.shape == (5, 10)
    relative = [json.loads(p.with_suffix(".json").read_text())["latency_ort"] for p in files]
    assert min(r["relative_to_fastest"] for r in relative) == 1.0
    # --trials picks others; without the artifacts the weights are fresh, and it says so.
    code, stdout, _ = _invoke("export", "yolo", "--storage", url, "--onnx", str(out),
                              "--trials", "1,0", "--artifacts", str(folder / "none"),
                              "--latency-s", "0")  # fmt: skip
    assert code == 0 and "trial1.onnx" in stdout and "fresh (no artifact folder)" in stdout
    assert " ms in ONNX Runtime" not in stdout  # --latency-s 0: untimed
    assert all("latency_ort" not in json.loads(p.read_text()) for p in out.glob("*.json"))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--trials", "7"), "--trials: 7: no completed trial 7 in study 'yolo'"),
        (("--trials", "a,b"), "--trials: 'a,b' must be trial numbers"),
    ],
)
def test_bad_trial_numbers(study: tuple[Path, str], args: tuple[str, ...], message: str) -> None:
    folder, url = study
    code, _, err = _invoke("export", "yolo", "--storage", url, "--onnx", str(folder / "x"), *args)
    assert code == 2 and err.count("\n") == 1 and message in err
    assert not (folder / "x").exists()


@pytest.mark.slow
def test_an_over_budget_study_has_nothing_to_export(tmp_path: Path, storage_url: str) -> None:
    space = write_space(tmp_path, SPACE.replace("BUDGET", "0.000001"), "tight")
    code, _, err = _invoke("run", "--space", str(space), "--storage", storage_url,
                           "--n-trials", "2")  # fmt: skip
    assert code == 0, err
    trials = optuna.load_study(study_name="tight", storage=storage_url).trials
    assert all("latency_ort" in t.user_attrs["infeasible"] for t in trials)
    assert not any(t.user_attrs["trained"] for t in trials)  # the budget stops training
    code, _, err = _invoke("export", "tight", "--storage", storage_url, "--onnx", "out")
    assert code == 2 and err.count("\n") == 1
    assert "study 'tight' has no trained trial to export" in err and not Path("out").exists()


def test_without_the_extra_one_line_names_it(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    space = write_space(tmp_path, SPACE.replace("BUDGET", "1000"), "yolo")
    for args in (
        ("run", "--space", str(space), "--storage", storage_url),
        ("export", "any", "--storage", storage_url, "--onnx", "out"),
    ):
        code, _, err = _invoke(*args)
        assert code == 2 and err.count("\n") == 1, err
        assert "needs the deploy extra (onnxruntime is not installed): " in err
        assert err.rstrip().endswith('pip install "cspsearch[deploy]"')
    assert not (tmp_path / "s.db").exists() and not Path("out").exists()


class _Spectrum(torch.nn.Module):
    """A complex FFT before the network: ONNX has no form for it, training has no trouble."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.fft.fft2(x).abs())


@pytest.mark.slow
def test_an_architecture_onnx_cannot_express_fails_its_trial_only(
    tmp_path: Path, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The c2f architecture is made unexportable (a real FFT in front of the real network):
    its trial is recorded failed with the exporter's reason, and the csp trial completes."""
    plain = FAMILIES["csp_yolo"]

    def build(cfg: ModelConfig) -> torch.nn.Module:
        net = plain(cfg)
        blocks = (cfg.block,) if isinstance(cfg.block, str) else cfg.block  # or one per stage
        return _Spectrum(net) if "c2f" in blocks else net

    monkeypatch.setitem(FAMILIES, "csp_yolo", build)
    space = write_space(tmp_path, SPACE.replace("BUDGET", "1000"), "fft")
    code, _, err = _invoke("run", "--space", str(space), "--storage", storage_url,
                           "--n-workers", "1")  # fmt: skip
    assert code == 0, err
    trials = {
        t.params["block"]: t
        for t in optuna.load_study(study_name="fft", storage=storage_url).trials
    }
    failed, done = trials["c2f"], trials["csp"]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert failed.user_attrs["latency_ort_missing"].startswith("export failed: ")
    assert "fft" in failed.user_attrs["latency_ort_missing"]
    assert done.state == optuna.trial.TrialState.COMPLETE and done.values[1] > 0


@pytest.mark.slow
def test_every_trial_scales_by_the_study_s_one_reference(study: tuple[Path, str]) -> None:
    """The scale is measured once and stored on the study; each trial's latency_ort is its
    ratio to the reference (timed in the same turns) at that scale."""
    _, url = study
    loaded = optuna.load_study(study_name="yolo", storage=url)
    (entry,) = loaded.user_attrs["ort_reference"].values()
    assert entry["ms"] > 0
    for t in loaded.trials:
        a = t.user_attrs
        assert a["ort_reference_scale_ms"] == entry["ms"]
        ratio = a["latency_ort_raw"] / a["ort_reference_ms"]
        assert a["latency_ort"] == pytest.approx(entry["ms"] * ratio)


def test_a_stored_scale_is_used_not_measured_again(storage_url: str) -> None:
    from cspsearch.trials.reference import reference_key
    from cspsearch.trials.reference import study_scale

    study = optuna.create_study(storage=storage_url, study_name="scale")
    assert study_scale(study, 16, 1, 1) > 0  # measured and stored
    study.set_user_attr("ort_reference", {reference_key(16, 1, 1): {"ms": 7.5}})
    assert study_scale(study, 16, 1, 1) == 7.5
    assert study_scale(study, 16, 1, 2) > 0  # another thread count: its own entry
    assert set(study.user_attrs["ort_reference"]) == {"16x16x1@1t", "16x16x1@2t"}


def test_a_new_study_takes_its_storage_s_scale_from_this_machine(storage_url: str) -> None:
    from cspsearch.trials.reference import study_scale

    first = optuna.create_study(storage=storage_url, study_name="first")
    scale = study_scale(first, 16, 1, 1)
    entry = first.user_attrs["ort_reference"]["16x16x1@1t"]
    other = {**entry, "machine": "elsewhere", "ms": 99.0, "measured": "2000-01-01T00:00:00"}
    optuna.create_study(storage=storage_url, study_name="other").set_user_attr(
        "ort_reference", {"16x16x1@1t": other}
    )  # older, but another machine's
    second = optuna.create_study(storage=storage_url, study_name="second")
    assert study_scale(second, 16, 1, 1) == scale
    assert second.user_attrs["ort_reference"]["16x16x1@1t"]["from_study"] == "first"


def test_the_scale_is_settled_before_workers_start(tmp_path: Path, storage_url: str) -> None:
    """``settle_scale`` (run before local workers fork or spawn) stores the scale for the
    space's input shape, so that no two workers measure one each."""
    from cspsearch.space.loader import load_space
    from cspsearch.trials.reference import settle_scale

    space = load_space(write_space(tmp_path, SPACE.replace("BUDGET", "1000"), "yolo"))
    study = optuna.create_study(storage=storage_url, study_name="settled")
    settle_scale(study, space, "cpu")
    (key,) = study.user_attrs["ort_reference"]
    assert key == "8x8x1@1t"  # digits at the space's input size, one channel, one thread


def test_a_trial_s_line_shows_its_latency_ort() -> None:
    from cspsearch.trials.progress import trial_line

    attrs = {"val_accuracy": 0.9, "macs": 2e6, "trial_time_s": 3.0, "latency_ort": 0.0891}
    trial = optuna.trial.create_trial(values=[0.9, 0.0891], user_attrs=attrs)
    assert "2.00 MMACs · 0.089 ms in ONNX Runtime · 3.0 s" in trial_line(trial, 1)
    del attrs["latency_ort"]
    without = optuna.trial.create_trial(value=0.9, user_attrs=attrs)
    assert "ONNX Runtime" not in trial_line(without, 1)
