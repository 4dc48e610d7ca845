"""The bad-input corpus: every malformed input ends in one line naming the file, key and value,
exit code 2, no traceback, and nothing written. Plus a fuzz of the space loader."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cspsearch.cli import app
from cspsearch.errors import SpaceError
from cspsearch.space.loader import parse_space
from cspsearch.space.rules import RULES
from cspsearch.space.searchspace import SearchSpace

CORPUS = sorted((Path(__file__).parent / "bad_inputs").glob("*.yaml"))
runner = CliRunner()


def expectation(path: Path) -> str:
    first = path.read_bytes().splitlines()[0].decode("utf-8")
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ")


def test_the_corpus_tests_distinct_faults_in_every_section() -> None:
    """Each file is its own input (no two bodies alike), and the faults reach every section
    the loader checks, so a rule that stops being checked fails a file."""
    bodies = [p.read_bytes().split(b"\n", 1)[-1] for p in CORPUS]
    assert len(set(bodies)) == len(bodies)
    expected = [expectation(p) for p in CORPUS]
    named = {e.partition(":")[0].split(".")[0] for e in expected}
    assert set(RULES) - named == set(), "a section of the loader's rules has no bad input"


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_bad_space_file(path: Path, tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    result = runner.invoke(app, ["run", "--space", str(path), "--storage", f"sqlite:///{db}"])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {path}: ")  # the file …
    assert expectation(path) in result.stderr  # … the key and the value
    assert not db.exists() and not (tmp_path / "reports").exists()  # nothing written


BAD_STORAGE = [
    ("nosuchdb://host/x", "cannot open storage 'nosuchdb://host/x'"),
    ("postgresql+psycopg2://nobody@127.0.0.1:1/none", "cannot open storage"),
    ("mysql://user@127.0.0.1/db", "cannot open storage"),
    ("sqlite:///{tmp}", "cannot open storage"),  # a folder, not a file
]


@pytest.mark.parametrize(("url", "message"), BAD_STORAGE)
def test_bad_storage_url(url: str, message: str, tiny_space_file: Path, tmp_path: Path) -> None:
    url = url.format(tmp=tmp_path)
    result = runner.invoke(app, ["run", "--space", str(tiny_space_file), "--storage", url])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_unknown_study_for_a_worker(tmp_path: Path) -> None:
    journal = tmp_path / "empty.log"
    journal.write_text("")
    result = runner.invoke(app, ["worker", "--study", "nope", "--storage", str(journal)])
    assert result.exit_code == 2 and "no study 'nope'" in result.stderr


# --- fuzz: the loader returns a valid space or raises SpaceError, never anything else.
KEYS = [k for section in RULES.values() for k in section] + [
    "model",
    "train",
    "data",
    "objectives",
    "budget",
    "study",
    "choices",
    "low",
    "high",
    "step",
    "log",
    "n_trials",
    "sampler",
    "timeout",
    "val_accuracy",
    "macs",
    "maximize",
    "junk",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 2**40),
    st.floats(allow_nan=True),
    st.sampled_from(
        [
            "none",
            "first",
            "last",
            "full",
            "digits",
            "tpe",
            "grid",
            "maximize",
            "minimize",
            "5e7",
            "",
            "csp_densenet",
        ]
    ),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
spaces = st.dictionaries(
    st.sampled_from(["model", "train", "data", "objectives", "budget", "study", "description"]),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=5) | values,
    max_size=6,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces)
def test_fuzzed_spaces_are_valid_or_a_space_error(raw: dict) -> None:
    try:
        space = parse_space(raw, source="fuzz.yaml", name="fuzz")
    except SpaceError as exc:
        assert str(exc).startswith("fuzz.yaml: ") and "\n" not in str(exc)
        return
    assert isinstance(space, SearchSpace)
    size = space.size()
    assert size is None or (isinstance(size, int) and size >= 1)
    assert all(not (isinstance(v, float) and math.isnan(v)) for v in space.budget.values())
