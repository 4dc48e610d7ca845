"""What a run may combine: the rules that hold for ``cspsearch run``, ``cspsearch.search()`` and
an ``Objective`` used from Python alike, checked before anything is written. No torch here."""

from __future__ import annotations

from typing import Any

from cspsearch.errors import StudyError
from cspsearch.errors import require_deploy
from cspsearch.space.searchspace import SearchSpace


def graphs_used(options: Any) -> bool:
    """Whether a run's training steps are captured as CUDA graphs (cspsearch/training/graphs.py):
    asked for (``options``, a RunOptions) and on CUDA. torch is imported here only."""
    from cspsearch.training.device import pick_device

    return bool(options.cuda_graphs) and pick_device(options.device).startswith("cuda")


def marks(options: Any) -> tuple[bool, bool]:
    """(early_stop, graphs): what a study's fingerprint records of a run's ``options``."""
    return bool(options.early_stop), graphs_used(options)


def check_fingerprint(name: str, stored: dict[str, Any], space: SearchSpace, options: Any) -> None:
    """StudyError when study ``name`` (user attributes ``stored``) has another fingerprint than
    ``space`` run with ``options`` would give it."""
    from cspsearch.trials.study import study_fingerprint

    if study_fingerprint(space, *marks(options)) != stored.get("space_fingerprint"):
        raise StudyError(f"study {name!r}: its stored space does not match its fingerprint")


def check_run(space: SearchSpace, early_stop: bool) -> None:
    """StudyError when the space and the run's options do not go together; SpaceError when
    it asks for latency_ort without the deploy extra."""
    if needs_ort(space):
        require_deploy(f"{space.source}: latency_ort")
    if space.is_detection and early_stop:
        raise StudyError(
            f"--early-stop: classification spaces only for now; {space.name} trains a detector"
        )
    if space.is_detection and space.train.get("seeds", 1) != 1:
        raise StudyError(
            f"--seeds / train.seeds: {space.train['seeds']}: a detector trains one seed per "
            "trial for now"
        )


def needs_ort(space: SearchSpace) -> bool:
    """The space asks for ``latency_ort``: an objective or a budget names it, or it has a
    ``measure:`` section (then every trial records it)."""
    return "latency_ort" in (*space.objectives, *space.budget) or bool(space.measure)
