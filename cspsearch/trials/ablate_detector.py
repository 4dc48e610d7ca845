"""The detection ablation as data (no torch): the paper's Table 2 on a fixed backbone.

A detection study's base is its backbone (every ``model`` value of a trial, fusion and γ
included) with the training and data of the study. A variant replaces the whole detector
setting — neck, Maxout, SPP, attention — by one of ``VARIANTS``: the plain FPN (the
reference), the plain GFM and the plain EFM, then EFM with one option added at a time
(Maxout, SPP, SAM, SE). The base's own detector setting is not kept: every base is scored
under the same seven detectors, so a variant differs from its reference only in the detector.
``maxout_size`` is the space's value where it is fixed, else the default (2): only
``efm+maxout`` uses it. The score is the study's (AP50 for ``val_ap50``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from cspsearch.errors import SpaceError
from cspsearch.space.configs import DetectorConfig
from cspsearch.space.loader import space_from_dict
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import SearchSpace
from cspsearch.trials.ablate_grid import Base
from cspsearch.trials.ablate_grid import Cell

PLAIN = {"maxout": False, "spp": False, "attention": "none"}
VARIANTS: dict[str, dict[str, Any]] = {
    "fpn": {"neck": "fpn", **PLAIN},  # the reference
    "gfm": {"neck": "gfm", **PLAIN},
    "efm": {"neck": "efm", **PLAIN},
    "efm+maxout": {"neck": "efm", **PLAIN, "maxout": True},
    "efm+spp": {"neck": "efm", **PLAIN, "spp": True},
    "efm+sam": {"neck": "efm", **PLAIN, "attention": "sam"},
    "efm+se": {"neck": "efm", **PLAIN, "attention": "se"},
}
ABLATED = ("neck", "maxout", "maxout_size", "spp", "attention", "seed")


@dataclass(frozen=True)
class DetectorGrid:
    """The seven detector settings of ``VARIANTS``, each trained with ``seeds`` seeds."""

    seeds: int = 3
    reference: str = "fpn"

    def variants(self) -> list[str]:
        return list(VARIANTS)

    def labels(self) -> list[str]:
        return list(VARIANTS)


def make_detector_grid(seeds: int) -> DetectorGrid:
    if seeds < 1:
        raise SpaceError(f"--seeds: {seeds} must be at least 1")
    return DetectorGrid(seeds)


def detector_space(space: SearchSpace, grid: DetectorGrid) -> SearchSpace:
    """``space`` with the detector's neck and options and the training seed chosen by the grid
    (one seed per trial, budget none); the backbone's searched values stay searched: a base's
    trial parameters fix them."""
    detector = dict(space.detector)
    detector["neck"] = Choice(("fpn", "gfm", "efm"))
    detector["maxout"] = Choice((False, True))
    detector["spp"] = Choice((False, True))
    detector["attention"] = Choice(("none", "sam", "se"))
    size = detector.get("maxout_size", DetectorConfig.maxout_size)
    detector["maxout_size"] = size if isinstance(size, int) else DetectorConfig.maxout_size
    first = space.train.get("seed", 0)
    first = first if isinstance(first, int) else 0
    seeds = tuple(range(first, first + grid.seeds))
    train = {**space.train, "seed": Choice(seeds) if len(seeds) > 1 else seeds[0], "seeds": 1}
    changed = dataclasses.replace(
        space, detector=detector, train=train, budget={}, sampler="random",
        baseline_first=False, n_trials=len(VARIANTS) * grid.seeds,
    )  # fmt: skip
    return space_from_dict(changed.to_dict())  # validated, and as a worker will read it


def detector_base_params(space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's searched parameters less the detector's and the seed: its backbone."""
    searched = space.searched()
    return {k: v for k, v in params.items() if k in searched and k not in ABLATED}


def check_detector_fixed(space: SearchSpace) -> None:
    """SpaceError unless every searched value of ``space`` is one the detector grid sets."""
    for key in space.searched():
        if key not in ABLATED:
            section = "train" if key in space.train else "model"
            raise SpaceError(
                f"{space.source}: {section}.{key}: is searched; a detection ablation base needs "
                "the backbone and training fixed (or ablate the trials of a STUDY)"
            )


def detector_cells(space: SearchSpace, bases: list[Base], grid: DetectorGrid) -> list[Cell]:
    """Every trial of the detection ablation, base by base, variant by variant, seed by seed."""
    seeds = space.train["seed"]
    seeds = seeds.choices if isinstance(seeds, Choice) else (seeds,)
    out = []
    for base in bases:
        for label, setting in VARIANTS.items():
            for seed in seeds:
                params = {**base.params, **setting}
                if isinstance(space.train["seed"], Choice):
                    params["seed"] = seed
                out.append(Cell(base.name, label, seed, params))
    return out
