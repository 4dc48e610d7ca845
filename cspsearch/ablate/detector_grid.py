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

from dataclasses import dataclass
from typing import Any

from cspsearch.ablate.grid import Base
from cspsearch.ablate.grid import Cell
from cspsearch.ablate.grid import check_seeds
from cspsearch.ablate.grid import searched_unless
from cspsearch.ablate.grid import seed_params
from cspsearch.ablate.grid import seed_values
from cspsearch.ablate.grid import with_seeds
from cspsearch.space.configs import DetectorConfig
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import SearchSpace

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
FIXED_HINT = (
    "a detection ablation base needs the backbone and training fixed "
    "(or ablate the trials of a STUDY)"
)


@dataclass(frozen=True)
class DetectorGrid:
    """The seven detector settings of ``VARIANTS``, each trained with ``seeds`` seeds."""

    seeds: int = 3
    reference: str = "fpn"
    kind: str = "detector"
    detection: bool = True

    @classmethod
    def make(cls, seeds: int = 3) -> DetectorGrid:
        check_seeds(seeds)
        return cls(seeds=seeds)

    def labels(self) -> list[str]:
        return list(VARIANTS)

    def make_space(self, space: SearchSpace, stages: tuple[int, ...] | None) -> SearchSpace:
        """``space`` with the detector's neck and options and the training seed chosen by the
        grid; the backbone's searched values stay searched: a base's trial parameters fix them.
        ``stages`` is not used: the backbone is the base's."""
        detector = dict(space.detector)
        detector["neck"] = Choice(("fpn", "gfm", "efm"))
        detector["maxout"] = Choice((False, True))
        detector["spp"] = Choice((False, True))
        detector["attention"] = Choice(("none", "sam", "se"))
        size = detector.get("maxout_size", DetectorConfig.maxout_size)
        detector["maxout_size"] = size if isinstance(size, int) else DetectorConfig.maxout_size
        return with_seeds(space, self.seeds, len(VARIANTS), detector=detector)

    def base_params(self, space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
        """A trial's searched parameters less the detector's and the seed: its backbone."""
        searched = space.searched()
        return {k: v for k, v in params.items() if k in searched and k not in ABLATED}

    def check_fixed(self, space: SearchSpace) -> None:
        searched_unless(space, lambda key: key in ABLATED, FIXED_HINT)

    def cells(self, space: SearchSpace, bases: list[Base]) -> list[Cell]:
        out = []
        for base in bases:
            for label, setting in VARIANTS.items():
                for seed in seed_values(space):
                    params = {**base.params, **setting, **seed_params(space, seed)}
                    out.append(Cell(base.name, label, seed, params))
        return out
