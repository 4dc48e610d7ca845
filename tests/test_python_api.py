"""The README's Python example runs as written, and a search from Python keeps the run's rules."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```python\n(import cspsearch\n.*?)```", text, re.S)
    assert block, "the README's Python example is missing"
    monkeypatch.chdir(tmp_path)
    exec(compile(block.group(1), "README.md", "exec"), {})  # noqa: S102 (the README's own code)
    from tests.test_end_to_end import assert_report_content

    page = (tmp_path / "demo.html").read_text(encoding="utf-8")
    assert_report_content(page, "csp_densenet-epochs1", trials=3)

    import optuna

    study = optuna.load_study(study_name="csp_densenet-epochs1", storage="sqlite:///demo.db")
    assert len(study.trials) == 3
    assert study.trials[0].params["fusion"] == "none"  # the baseline first, as cspsearch run does
    assert study.user_attrs["sampler"] == "tpe"
    assert os.path.isdir(tmp_path / "reports" / "artifacts")


def test_search_refuses_what_run_refuses(tmp_path: Path) -> None:
    import cspsearch
    from cspsearch.errors import StudyError
    from cspsearch.space.loader import load_space
    from cspsearch.trials.objective import Objective

    space = load_space("csp_efm")
    options = cspsearch.RunOptions(early_stop=True)
    storage = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(StudyError, match="--early-stop: classification spaces only"):
        cspsearch.search(space, storage=storage, options=options)
    assert not (tmp_path / "x.db").exists()  # nothing written
    from cspsearch.trials.early_stop import EarlyStop

    with pytest.raises(StudyError, match="--early-stop"):
        Objective(space, "cpu", early_stop=EarlyStop())  # used from Python: refused too
