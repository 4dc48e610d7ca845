"""cspsearch/compat.py: every private Optuna and fvcore name the package uses still exists in the
installed versions and does what the caller needs; no other module names a private one."""

from __future__ import annotations

import ast
from pathlib import Path

import optuna
import pytest

from cspsearch import compat

PACKAGE = Path(__file__).parent.parent / "cspsearch"


def _study(tmp_path: Path) -> optuna.Study:
    return optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}", study_name="c")


def test_study_storage_and_id_reach_the_storage(tmp_path: Path) -> None:
    study = _study(tmp_path)
    storage = compat.study_storage(study)
    assert isinstance(storage, optuna.storages.BaseStorage)
    assert storage.get_study_name_from_id(compat.study_id(study)) == "c"


def test_trial_id_names_the_trial_in_its_storage(tmp_path: Path) -> None:
    study = _study(tmp_path)
    trial = study.ask()
    storage = compat.study_storage(study)
    assert storage.get_trial(compat.trial_id(trial)).number == trial.number
    frozen = study.get_trials(deepcopy=False)[0]
    assert compat.trial_id(frozen) == compat.trial_id(trial)


def test_cached_user_attrs_is_what_trial_user_attrs_reads(tmp_path: Path) -> None:
    trial = _study(tmp_path).ask()
    compat.cached_user_attrs(trial)["k"] = 1
    assert trial.user_attrs["k"] == 1


def test_the_rdb_models_upsert_user_attributes(tmp_path: Path) -> None:
    from cspsearch.trials.attrs import set_user_attrs

    assert compat.rdb_models() is not None, "Optuna moved storages._rdb: update compat.py"
    study = _study(tmp_path)
    backend = compat.rdb_backend(compat.study_storage(study))
    assert isinstance(backend, optuna.storages.RDBStorage), "update compat.rdb_backend"
    trial = study.ask()
    set_user_attrs(trial, {"a": 1, "b": [2]})
    stored = compat.study_storage(study).get_trial(compat.trial_id(trial)).user_attrs
    assert stored == {"a": 1, "b": [2]} and trial.user_attrs == stored


def test_fvcore_default_ops_name_convolution() -> None:
    macs, activations = compat.fvcore_default_ops()
    assert "aten::_convolution" in macs and "aten::_convolution" in activations


def test_a_moved_name_fails_with_a_clear_message() -> None:
    with pytest.raises(compat.CompatError, match=r"Optuna .* moved Study\._storage: update"):
        compat.study_storage(object())  # type: ignore[arg-type]


def _private_uses(path: Path) -> list[str]:
    """``x._name`` attribute reads and ``from optuna/fvcore… import _name`` in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            "optuna",
            "fvcore",
        ):
            private = "._" in f".{node.module}" or any(a.name.startswith("_") for a in node.names)
            if private:
                found.append(f"from {node.module} import …")
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRS:
            found.append(node.attr)
        elif isinstance(node, ast.Constant) and node.value in PRIVATE_ATTRS:  # getattr(x, "_…")
            found.append(node.value)
    return found


PRIVATE_ATTRS = {
    "_storage", "_study_id", "_trial_id", "_cached_frozen_trial", "_backend",
    "_DEFAULT_SUPPORTED_OPS",
}  # fmt: skip


def test_no_module_but_compat_names_a_private_optuna_or_fvcore_name() -> None:
    offenders = {
        str(p.relative_to(PACKAGE)): uses
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "compat.py" and (uses := _private_uses(p))
    }
    assert offenders == {}
