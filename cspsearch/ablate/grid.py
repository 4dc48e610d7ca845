"""What every ablation grid shares (no torch): a base, a cell, the ``Grid`` interface, and the
seed range of one ablation study.

A *base* is an architecture with every value fixed (a trial of a search, a space file, a
preset). A *variant* is the base with the grid's factor changed, everything else equal; the
grid's ``reference`` variant is the one the others are paired against. A *cell* is one trial:
a base, a variant and a seed. A grid is one class with the methods below (csp_grid.py: fusion ×
γ; detector_grid.py: the detector settings of CSPNet's Table 2), so a new kind of ablation is
one new class; run.py only calls the interface.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

from cspsearch.errors import SpaceError
from cspsearch.space.loader import space_from_dict
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import SearchSpace


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


class Grid(Protocol):
    """An ablation's variants, each trained with ``seeds`` seeds, and how they become trials."""

    seeds: int
    reference: str  # the variant every other is paired against
    kind: str  # "csp", "detector" or "block": what the page shows (read.py: AblationData.kind)
    detection: bool  # the kind of space it ablates: a detector's (True) or a classifier's

    def labels(self) -> list[str]:
        """Every variant's label, the reference first."""
        ...

    def make_space(self, space: SearchSpace, stages: tuple[int, ...] | None) -> SearchSpace:
        """The one search space the ablation study records: ``space`` with the grid's factor
        and the seed as choices (``stages``: the stages a variant changes; None: all)."""
        ...

    def base_params(self, space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
        """A trial's parameters that define its base: the searched ones the grid does not set."""
        ...

    def check_fixed(self, space: SearchSpace) -> None:
        """SpaceError unless every searched value of ``space`` is one the grid sets."""
        ...

    def cells(self, space: SearchSpace, bases: list[Base]) -> list[Cell]:
        """Every trial of the ablation, base by base, variant by variant, seed by seed."""
        ...


def check_seeds(seeds: int) -> None:
    if seeds < 1:
        raise SpaceError(f"--seeds: {seeds} must be at least 1")


def with_seeds(space: SearchSpace, seeds: int, variants: int, **changes: Any) -> SearchSpace:
    """``space`` with ``changes`` and the training seed a choice of ``seeds`` consecutive seeds
    from the space's own (one seed per trial, budget none, trials enqueued: random sampler),
    validated as a worker will read it."""
    first = space.train.get("seed", 0)
    first = first if isinstance(first, int) else 0
    chosen = tuple(range(first, first + seeds))
    train = {**space.train, "seed": Choice(chosen) if len(chosen) > 1 else chosen[0], "seeds": 1}
    changed = dataclasses.replace(
        space, train=train, budget={}, sampler="random", baseline_first=False,
        n_trials=variants * seeds, **changes,
    )  # fmt: skip
    return space_from_dict(changed.to_dict())


def seed_values(space: SearchSpace) -> tuple[int, ...]:
    """The seeds of an ablation space (``with_seeds``)."""
    seed = space.train["seed"]
    return seed.choices if isinstance(seed, Choice) else (seed,)


def seed_params(space: SearchSpace, seed: int) -> dict[str, Any]:
    """The ``seed`` parameter of a cell: only where the seed is a choice (two seeds or more)."""
    return {"seed": seed} if isinstance(space.train["seed"], Choice) else {}


def searched_unless(space: SearchSpace, allowed: Any, hint: str) -> None:
    """SpaceError naming the first searched key for which ``allowed(key)`` is false."""
    for key in space.searched():
        if not allowed(key):
            section = "train" if key in space.train else "model"
            raise SpaceError(f"{space.source}: {section}.{key}: is searched; {hint}")


def distinct(bases: list[Base]) -> list[Base]:
    """The bases without repeats: two trials that differ only in the grid's factor are one."""
    seen: dict[str, Base] = {}
    for base in bases:
        seen.setdefault(base.key(), base)
    return list(seen.values())
