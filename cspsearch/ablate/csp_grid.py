"""The CSP ablation grid (no torch): fusion × γ on a fixed base, CSPNet's Table 1.

A variant is the base with fusion and γ changed on its CSP stages (every stage, unless the base
names a plan such as CSPPeleeNet's stages 2-4), everything else equal: ``none`` (the plain
network, no γ; the reference) and every fusion × γ of the grid, labelled ``full/0.5``. The
ablation space is the base's space with ``fusion``, ``split_ratio`` and the training ``seed``
turned into choices (the grid's), so Optuna's parameters (dashboard, ``optuna`` CLI) say which
variant and seed a trial is; the trials are enqueued with fixed parameters and labelled with the
user attributes ``ablation_base``, ``ablation_variant`` and ``ablation_seed`` (grid.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cspsearch.ablate.grid import Base
from cspsearch.ablate.grid import Cell
from cspsearch.ablate.grid import check_seeds
from cspsearch.ablate.grid import searched_unless
from cspsearch.ablate.grid import seed_params
from cspsearch.ablate.grid import seed_values
from cspsearch.ablate.grid import with_seeds
from cspsearch.errors import SpaceError
from cspsearch.space.configs import FUSIONS
from cspsearch.space.configs import ModelConfig
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import SearchSpace

ABLATED = ("fusion", "split_ratio", "seed")  # the parameters the grid sets (per stage: _i)
FIXED_HINT = (
    "an ablation base needs every value fixed but fusion and split_ratio "
    "(or ablate the trials of a STUDY)"
)


@dataclass(frozen=True)
class CspGrid:
    """Fusions × γ (plus ``none``), each trained with ``seeds`` seeds."""

    fusions: tuple[str, ...] = ("first", "last", "full")
    ratios: tuple[float, ...] = (0.25, 0.5, 0.75)
    seeds: int = 3
    reference: str = "none"
    kind: str = "csp"
    detection: bool = False

    @classmethod
    def make(
        cls,
        fusions: Sequence[str] | None = None,
        ratios: Sequence[float] | None = None,
        seeds: int = 3,
    ) -> CspGrid:
        """A validated grid (None: the defaults); SpaceError names a bad fusion, γ or seed
        count."""
        fusions = cls.fusions if fusions is None else fusions
        ratios = cls.ratios if ratios is None else ratios
        for f in fusions:
            if f not in FUSIONS:
                raise SpaceError(f"--fusion: unknown fusion {f!r} (one of {', '.join(FUSIONS)})")
        for r in ratios:
            if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r < 1:
                raise SpaceError(f"--split-ratio: {r!r} must be in (0, 1) (γ: the bypass share)")
        check_seeds(seeds)
        kept = tuple(dict.fromkeys(f for f in fusions if f != "none"))  # none is always there
        if not kept or not ratios:
            raise SpaceError(
                "--fusion/--split-ratio: the grid needs at least one fusion and one γ"
            )
        return cls(
            fusions=kept, ratios=tuple(dict.fromkeys(float(r) for r in ratios)), seeds=seeds
        )

    def variants(self) -> list[tuple[str, float | None]]:
        """``("none", None)`` first, then every fusion × γ."""
        return [("none", None)] + [(f, r) for f in self.fusions for r in self.ratios]

    def labels(self) -> list[str]:
        return [variant_label(f, r) for f, r in self.variants()]

    def make_space(self, space: SearchSpace, stages: tuple[int, ...] | None) -> SearchSpace:
        model = dict(space.model)
        count = model.get("num_stages", ModelConfig.num_stages)
        fusion = Choice(("none", *self.fusions))
        if stages is not None:
            model["fusion"] = tuple(fusion if i in stages else "none" for i in range(count))
        else:
            model["fusion"] = fusion
        model["split_ratio"] = Choice(self.ratios) if len(self.ratios) > 1 else self.ratios[0]
        return with_seeds(space, self.seeds, len(self.variants()), model=model)

    def base_params(self, space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
        searched = space.searched()
        return {k: v for k, v in params.items() if k in searched and not _ablated(k)}

    def check_fixed(self, space: SearchSpace) -> None:
        searched_unless(space, _ablated, FIXED_HINT)

    def cells(self, space: SearchSpace, bases: list[Base]) -> list[Cell]:
        fusion_keys = _fusion_keys(space)
        searched_ratio = isinstance(space.model["split_ratio"], Choice)
        out = []
        for base in bases:
            for fusion, ratio in self.variants():
                for seed in seed_values(space):
                    params = {**base.params, **dict.fromkeys(fusion_keys, fusion)}
                    if ratio is not None and searched_ratio:
                        params["split_ratio"] = ratio
                    params.update(seed_params(space, seed))
                    out.append(Cell(base.name, variant_label(fusion, ratio), seed, params))
        return out


def variant_label(fusion: str, ratio: float | None) -> str:
    return "none" if ratio is None or fusion == "none" else f"{fusion}/{ratio:g}"


def _ablated(key: str) -> bool:
    return key in ABLATED or key.rpartition("_")[0] in ("fusion", "split_ratio")


def _fusion_keys(space: SearchSpace) -> list[str]:
    fusion = space.model["fusion"]
    if isinstance(fusion, tuple):
        return [f"fusion_{i}" for i, f in enumerate(fusion) if isinstance(f, Choice)]
    return ["fusion"]
