"""``--trials-per-device``: ``auto`` (the default) or a whole number ≥ 1 on run and ablate; a
bad value ends in one line and exit code 2 with nothing written; K is printed at the start."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cspsearch.cli import app

runner = CliRunner()


@pytest.mark.parametrize("command", ["run", "ablate"])
@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_bad_value_is_one_line_and_exit_code_2(
    command: str, value: str, tiny_space_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "s.db"
    args = [command, "--space", str(tiny_space_file), "--storage", f"sqlite:///{db}"]
    result = runner.invoke(app, [*args, "--trials-per-device", value])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"--trials-per-device: {value!r} must be a whole number ≥ 1, or auto" in result.stderr
    assert not db.exists()  # nothing written


def test_a_number_reaches_the_workers(tiny_space_file: Path, tmp_path: Path) -> None:
    args = ["run", "--space", str(tiny_space_file), "--storage", f"sqlite:///{tmp_path}/s.db"]
    result = runner.invoke(app, [*args, "--trials-per-device", "2", "--n-workers", "2"])
    assert result.exit_code == 2 and "give one of them, not both" in result.stderr


def test_auto_is_the_default_and_printed_at_the_start(
    tiny_space_file: Path, tmp_path: Path
) -> None:
    args = ["run", "--space", str(tiny_space_file), "--storage", f"sqlite:///{tmp_path}/s.db"]
    result = runner.invoke(app, [*args, "--device", "cpu", "--n-trials", "1", "--n-workers", "1"])
    assert result.exit_code == 0, result.output
    first = result.stderr.splitlines()[0]
    assert first == "trials per device: 1 (auto: --n-workers decides)"
