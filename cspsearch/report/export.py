"""Exports of a study (no torch): a table with one row per trial (csv, parquet, json), and the
best architectures as ready-to-run space files with every value fixed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml

from cspsearch.errors import StudyError
from cspsearch.report.collect import ReportData
from cspsearch.report.collect import TrialRow
from cspsearch.report.tables import safe_name
from cspsearch.space.loader import parse_space

FORMATS = ("csv", "parquet", "json")
SET_BY_DATA = ("in_chans", "num_classes")  # model fields the dataset decides


def trials_frame(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, times, ``params_*``, ``values_*`` (metric names),
    ``user_attrs_*``. Nested attributes (configs, curves, per-stage MACs) are JSON text."""
    frame = study.trials_dataframe(multi_index=False)
    frame = frame.drop(columns=[c for c in frame if c == "user_attrs_config_key"])
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, (dict, list))).any():
            frame[column] = frame[column].map(
                lambda v: json.dumps(v) if isinstance(v, (dict, list)) else v
            )
    for column in ("datetime_start", "datetime_complete"):
        if column in frame:
            frame[column] = frame[column].astype(str)
    if "duration" in frame:
        frame["duration"] = frame["duration"].dt.total_seconds()
    return frame


def write_table(study: optuna.Study, fmt: str, path: Path) -> Path:
    """Write :func:`trials_frame` as csv, parquet or json (records) to ``path``."""
    if fmt not in FORMATS:
        raise StudyError(f"unknown export format {fmt!r} (csv, parquet, json)")
    frame = trials_frame(study)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", indent=1)
    return path


def best_rows(data: ReportData, k: int) -> list[TrialRow]:
    """The Pareto set by score (best first), then the other evaluated trials by score."""
    evaluated = sorted(
        (r for r in data.rows if r.evaluated),
        key=lambda r: (not r.pareto, -(r.score or 0), r.macs or 0),
    )
    return evaluated[:k]


def space_text(data: ReportData, space: dict[str, Any], row: TrialRow) -> str:
    """A space file that fixes every value to those of trial ``row`` (checked by the loader)."""
    model = {k: v for k, v in row.config["model"].items() if k not in SET_BY_DATA}
    doc = {
        "description": (
            f"Trial {row.number} of study {data.study_name}: validation {data.metric} "
            f"{row.score:.4f} at {(row.macs or 0) / 1e6:.3f} MMACs."
        ),
        "model": model,
        "train": row.config["train"],
        **({"detector": row.config["detector"]} if "detector" in row.config else {}),
        "data": space.get("data", {}),
        "objectives": data.objectives,
        "budget": space.get("budget") or {},
        "study": {"n_trials": 1, "sampler": "random"},
    }
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, allow_unicode=True)
    parse_space(yaml.safe_load(text), source="export", name="export")  # fails loudly if not
    return text


def write_best(study: optuna.Study, data: ReportData, k: int, folder: Path) -> list[Path]:
    """Write the ``k`` best architectures as ``STUDY-trialN.yaml`` files in ``folder``."""
    rows = best_rows(data, k)
    if not rows:
        raise StudyError(f"study {data.study_name!r} has no evaluated, feasible trial to export")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for row in rows:
        path = folder / f"{safe_name(data.study_name)}-trial{row.number}.yaml"
        path.write_text(space_text(data, study.user_attrs.get("space", {}), row), encoding="utf-8")
        paths.append(path)
    return paths
