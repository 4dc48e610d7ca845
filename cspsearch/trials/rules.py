"""What a run may combine: the rules that hold for ``cspsearch run``, ``cspsearch.search()`` and
an ``Objective`` used from Python alike, checked before anything is written. No torch here."""

from __future__ import annotations

from cspsearch.errors import StudyError
from cspsearch.space.searchspace import SearchSpace


def check_run(space: SearchSpace, early_stop: bool) -> None:
    """StudyError when the space and the run's options do not go together."""
    if space.is_detection and early_stop:
        raise StudyError(
            f"--early-stop: classification spaces only for now; {space.name} trains a detector"
        )
    if space.is_detection and space.train.get("seeds", 1) != 1:
        raise StudyError(
            f"--seeds / train.seeds: {space.train['seeds']}: a detector trains one seed per "
            "trial for now"
        )
