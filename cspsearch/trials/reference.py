"""A study's scale for ``latency_ort``: the reference network's median ms alone
(measure/ort_latency.py), measured once, before the first trial, and stored as the study
attribute ``ort_reference`` (one entry per input shape and thread count), so every trial of the
study, every worker and every resumed run scales its ratio to the reference by the same figure;
a new study takes the figure an earlier study of its storage measured on the same machine.
"""

from __future__ import annotations

import datetime
import platform
from typing import Any

import optuna

from cspsearch.compat import study_storage
from cspsearch.space.searchspace import SearchSpace

ATTR = "ort_reference"


def reference_key(input_size: int, in_chans: int, threads: int) -> str:
    return f"{input_size}x{input_size}x{in_chans}@{threads}t"


def study_scale(study: optuna.Study, input_size: int, in_chans: int, threads: int) -> float:
    """The study's scale for this shape and thread count. A study without one takes the scale
    another study of the same storage measured on this machine (so that studies side by side
    agree: their ratios to the reference do, the host's speed at each start does not), else
    measures it; either way it is stored on the study.
    NOTE: two workers starting together could both store one; ``settle_scale`` runs before the
    workers fork so that they find it stored."""
    stored: dict[str, Any] = dict(study.user_attrs.get(ATTR, {}))
    key = reference_key(input_size, in_chans, threads)
    if key not in stored:
        stored[key] = _from_storage(study, key) or _measure(input_size, in_chans, threads)
        study.set_user_attr(ATTR, stored)
    return float(stored[key]["ms"])


def _from_storage(study: optuna.Study, key: str) -> dict[str, Any] | None:
    """The earliest scale for ``key`` that a study of this storage measured on this machine."""
    storage = study_storage(study)
    found = [
        {**entry, "from_study": summary.study_name}
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False)
        if (entry := summary.user_attrs.get(ATTR, {}).get(key))
        and entry.get("machine") == platform.node()
        and "from_study" not in entry
    ]
    return min(found, key=lambda e: e["measured"]) if found else None


def _measure(input_size: int, in_chans: int, threads: int) -> dict[str, Any]:
    from cspsearch.measure.ort_latency import reference_ms  # torch: only where trials run

    return {
        "ms": reference_ms(input_size, in_chans, threads),
        "measured": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
    }


def settle_scale(study: optuna.Study, space: SearchSpace, device: str) -> None:
    """Store the study's scale now (the dataset is loaded and cached) when its trials will
    measure ``latency_ort``."""
    from cspsearch.training.device import pick_device
    from cspsearch.training.task import get_task
    from cspsearch.trials.rules import needs_ort

    if needs_ort(space):
        data = get_task(space.task).load_data(space, pick_device(device))
        threads = int(space.measure.get("ort_threads", 1))
        study_scale(study, space.data.input_size, data.in_chans, threads)
