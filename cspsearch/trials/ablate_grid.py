"""The controlled CSP ablation as data (no torch): the grid of variants, the one search space
an ablation study records, and the trials it holds — one per (base, variant, seed).

A *base* is an architecture with every value fixed (a trial of a search, a space file, a
preset). A *variant* is the base with fusion and γ changed on its CSP stages (every stage,
unless the base names a plan such as CSPPeleeNet's stages 2-4), everything else equal:
``none`` (the plain network, no γ) and every fusion × γ of the grid, labelled ``full/0.5``.
The ablation space is the base's space with ``fusion``, ``split_ratio`` and the training
``seed`` turned into choices (the grid's), budget none and one seed per trial, so Optuna's
parameters (dashboard, ``optuna`` CLI) say which variant and seed a trial is; the trials are
enqueued with fixed parameters and labelled with the user attributes ``ablation_base``,
``ablation_variant`` and ``ablation_seed``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from cspsearch.errors import SpaceError
from cspsearch.space.configs import FUSIONS
from cspsearch.space.configs import ModelConfig
from cspsearch.space.loader import space_from_dict
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import SearchSpace

ABLATED = ("fusion", "split_ratio", "seed")  # the parameters the grid sets (per stage: _i)


@dataclass(frozen=True)
class Grid:
    """Fusions × γ (plus ``none``), each trained with ``seeds`` seeds."""

    fusions: tuple[str, ...] = ("first", "last", "full")
    ratios: tuple[float, ...] = (0.25, 0.5, 0.75)
    seeds: int = 3
    reference: str = "none"

    def variants(self) -> list[tuple[str, float | None]]:
        """``("none", None)`` first, then every fusion × γ."""
        return [("none", None)] + [(f, r) for f in self.fusions for r in self.ratios]

    def labels(self) -> list[str]:
        return [variant_label(f, r) for f, r in self.variants()]


def variant_label(fusion: str, ratio: float | None) -> str:
    return "none" if ratio is None or fusion == "none" else f"{fusion}/{ratio:g}"


def make_grid(fusions: list[str], ratios: list[float], seeds: int) -> Grid:
    """A validated grid; SpaceError names a bad fusion, γ or seed count."""
    for f in fusions:
        if f not in FUSIONS:
            raise SpaceError(f"--fusion: unknown fusion {f!r} (one of {', '.join(FUSIONS)})")
    for r in ratios:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r < 1:
            raise SpaceError(f"--split-ratio: {r!r} must be in (0, 1) (γ: the bypass share)")
    if seeds < 1:
        raise SpaceError(f"--seeds: {seeds} must be at least 1")
    kept = tuple(dict.fromkeys(f for f in fusions if f != "none"))  # none is always there
    if not kept or not ratios:
        raise SpaceError("--fusion/--split-ratio: the grid needs at least one fusion and one γ")
    return Grid(kept, tuple(dict.fromkeys(float(r) for r in ratios)), seeds)


@dataclass(frozen=True)
class Base:
    """One base architecture: a name and the values of the space's other searched parameters."""

    name: str  # e.g. "trial 12" or "peleenet"
    params: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        return json.dumps(self.params, sort_keys=True)


@dataclass(frozen=True)
class Cell:
    """One trial of the ablation: a base, a variant and a seed, with its fixed parameters."""

    base: str
    variant: str
    seed: int
    params: dict[str, Any]

    def attrs(self) -> dict[str, Any]:
        return {"ablation_base": self.base, "ablation_variant": self.variant,
                "ablation_seed": self.seed}  # fmt: skip


def ablation_space(
    space: SearchSpace, grid: Grid, csp_stages: tuple[int, ...] | None = None
) -> SearchSpace:
    """``space`` with fusion, γ and seed chosen by the grid (see the module docstring).

    ``csp_stages``: the stages a variant changes (default every stage; the others stay plain).
    """
    model = dict(space.model)
    stages = model.get("num_stages", ModelConfig.num_stages)
    fusion = Choice(("none", *grid.fusions))
    if csp_stages is not None:
        model["fusion"] = tuple(fusion if i in csp_stages else "none" for i in range(stages))
    else:
        model["fusion"] = fusion
    model["split_ratio"] = Choice(grid.ratios) if len(grid.ratios) > 1 else grid.ratios[0]
    first = space.train.get("seed", 0)
    first = first if isinstance(first, int) else 0
    seeds = tuple(range(first, first + grid.seeds))
    train = {**space.train, "seed": Choice(seeds) if len(seeds) > 1 else seeds[0], "seeds": 1}
    changed = dataclasses.replace(
        space, model=model, train=train, budget={}, sampler="random", baseline_first=False,
        n_trials=len(grid.variants()) * grid.seeds,
    )  # fmt: skip
    return space_from_dict(changed.to_dict())  # validated, and as a worker will read it


def base_params(space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameters that the ablation space still searches, less fusion, γ and seed."""
    searched = space.searched()
    return {k: v for k, v in params.items() if k in searched and not _ablated(k)}


def check_fixed(space: SearchSpace) -> None:
    """SpaceError unless every searched value of ``space`` is one the grid sets."""
    for key in space.searched():
        if not _ablated(key):
            section = "train" if key in space.train else "model"
            raise SpaceError(
                f"{space.source}: {section}.{key}: is searched; an ablation base needs every "
                "value fixed but fusion and split_ratio (or ablate the trials of a STUDY)"
            )


def _ablated(key: str) -> bool:
    return key in ABLATED or key.rpartition("_")[0] in ("fusion", "split_ratio")


def cells(space: SearchSpace, bases: list[Base], grid: Grid) -> list[Cell]:
    """Every trial of the ablation, base by base, variant by variant, seed by seed."""
    fusion_keys = _fusion_keys(space)
    seeds = space.train["seed"]
    seeds = seeds.choices if isinstance(seeds, Choice) else (seeds,)
    out = []
    for base in bases:
        for fusion, ratio in grid.variants():
            for seed in seeds:
                params = {**base.params, **dict.fromkeys(fusion_keys, fusion)}
                if ratio is not None and isinstance(space.model["split_ratio"], Choice):
                    params["split_ratio"] = ratio
                if isinstance(space.train["seed"], Choice):
                    params["seed"] = seed
                out.append(Cell(base.name, variant_label(fusion, ratio), seed, params))
    return out


def _fusion_keys(space: SearchSpace) -> list[str]:
    fusion = space.model["fusion"]
    if isinstance(fusion, tuple):
        return [f"fusion_{i}" for i, f in enumerate(fusion) if isinstance(f, Choice)]
    return ["fusion"]


def distinct(bases: list[Base]) -> list[Base]:
    """The bases without repeats: two trials that differ only in fusion or γ are one base."""
    seen: dict[str, Base] = {}
    for base in bases:
        seen.setdefault(base.key(), base)
    return list(seen.values())
