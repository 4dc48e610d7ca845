"""Writing a trial's user attributes in one storage statement.

A trial records ~30 user attributes; Optuna's ``Trial.set_user_attr`` commits each on its own
(a trial lookup, a state check and an upsert per attribute): on SQLite, measured on a loaded
2-core machine, 0.45 s for 30, a tenth of a small trial. On SQLite and PostgreSQL they go as one
multi-row upsert in one transaction, the statement Optuna itself issues per attribute (Optuna's
table models are private API: where they are missing, other RDB engines and Journal files,
whose appends are cheap, each attribute is set the public way).
"""

from __future__ import annotations

import json
from typing import Any

import optuna

from cspsearch.compat import cached_user_attrs
from cspsearch.compat import rdb_backend
from cspsearch.compat import rdb_models
from cspsearch.compat import trial_id


def set_user_attrs(trial: optuna.Trial, attrs: dict[str, Any]) -> None:
    """``trial.set_user_attr(k, v)`` for every item, in one statement where possible."""
    backend = rdb_backend(trial.storage)
    rdb = isinstance(backend, optuna.storages.RDBStorage)
    if attrs and rdb and _upsert(backend, trial, attrs):
        cached_user_attrs(trial).update(attrs)
        return
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def _upsert(storage: optuna.storages.RDBStorage, trial: optuna.Trial, attrs: dict) -> bool:
    found_models = rdb_models()
    if found_models is None:
        return False
    models, _create_scoped_session = found_models
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects import sqlite

    dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(storage.engine.name)
    if dialect is None:
        return False
    table = models.TrialUserAttributeModel
    rows = [
        {"trial_id": trial_id(trial), "key": k, "value_json": json.dumps(v)}
        for k, v in attrs.items()
    ]
    with _create_scoped_session(storage.scoped_session, True) as session:
        found = models.TrialModel.find_or_raise_by_id(trial_id(trial), session)
        storage.check_trial_is_updatable(trial_id(trial), found.state)
        insert = dialect.insert(table).values(rows)
        session.execute(
            insert.on_conflict_do_update(
                index_elements=[table.trial_id, table.key],
                set_={"value_json": insert.excluded.value_json},
            )
        )
    return True
