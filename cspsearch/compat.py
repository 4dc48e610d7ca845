"""Every private name of Optuna and fvcore that cspsearch uses, in one module.

Optuna has no public way to reach a study's storage, a trial's storage id or its cached frozen
trial, nor its RDB table models; fvcore has no public name for its default operator tables. Each
use below says why it is needed; tests/test_compat.py calls every one against the installed
versions, so an upgrade that moves a name fails there with "Optuna X moved Y: update
compat.py" rather than silently somewhere else. No torch at import (fvcore is imported where
its tables are asked for).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import optuna


class CompatError(RuntimeError):
    """An upgrade moved a private name this module relies on."""


def _moved(package: str, version: str, name: str) -> CompatError:
    return CompatError(f"{package} {version} moved {name}: update cspsearch/compat.py")


def _get(obj: Any, name: str, where: str) -> Any:
    try:
        return getattr(obj, name)
    except AttributeError:
        raise _moved("Optuna", optuna.__version__, f"{where}.{name}") from None


def study_storage(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage a study reads and writes (``Study._storage``): the dashboard's figures and
    the Journal heartbeat write to it directly."""
    return _get(study, "_storage", "Study")


def study_id(study: optuna.Study) -> int:
    """The study's id in its storage (``Study._study_id``)."""
    return _get(study, "_study_id", "Study")


def trial_id(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """A trial's id in its storage (``Trial._trial_id``): to stamp or fail another process's
    running trial, as Optuna's own heartbeat code does."""
    return _get(trial, "_trial_id", type(trial).__name__)


def cached_user_attrs(trial: optuna.Trial) -> dict[str, Any]:
    """The user attributes of a running trial's cached copy (``Trial._cached_frozen_trial``),
    updated by hand after a batched write so ``trial.user_attrs`` sees it."""
    return _get(_get(trial, "_cached_frozen_trial", "Trial"), "user_attrs", "FrozenTrial")


def rdb_backend(storage: optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """The storage under Optuna's caching wrapper (``_CachedStorage._backend``), where there is
    one: an RDBStorage is wrapped so, and the batched attribute write needs the RDB itself."""
    return getattr(storage, "_backend", storage)


def rdb_models() -> tuple[ModuleType, Any] | None:
    """Optuna's RDB table models and its scoped-session helper (``optuna.storages._rdb``), for
    one multi-row upsert of a trial's attributes; None where they cannot be imported (the
    caller then sets each attribute the public way)."""
    try:
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
    except ImportError:
        return None
    return models, _create_scoped_session


def fvcore_default_ops() -> tuple[dict[str, Any], dict[str, Any]]:
    """fvcore's default operator tables (``_DEFAULT_SUPPORTED_OPS``) for MACs and for
    activations: one trace counts both with handles taken from them."""
    import importlib

    import fvcore

    version = getattr(fvcore, "__version__", "?")
    try:  # the modules by path: fvcore.nn's names flop_count and activation_count are functions
        macs = importlib.import_module("fvcore.nn.flop_count")._DEFAULT_SUPPORTED_OPS
        acts = importlib.import_module("fvcore.nn.activation_count")._DEFAULT_SUPPORTED_OPS
        return macs, acts
    except (ImportError, AttributeError):
        raise _moved("fvcore", version, "_DEFAULT_SUPPORTED_OPS") from None
