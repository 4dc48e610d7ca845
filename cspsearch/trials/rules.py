"""What a run may combine: the rules that hold for ``cspsearch run``, ``cspsearch.search()`` and
an ``Objective`` used from Python alike, checked before anything is written. No torch here."""

from __future__ import annotations

from cspsearch.errors import StudyError
from cspsearch.errors import require_deploy
from cspsearch.space.searchspace import SearchSpace


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
