"""The block ablation grid (no torch): which CSP block, on a fixed csp_yolo base
(``cspsearch ablate --block c3,c2f,c3k2,elan,gelan``).

A variant is the base with every stage's block replaced by one listed block, at the base's
stage widths, depths, strides, stem, tail and head, everything else equal. The reference is the
base as it is (label ``base``: its own block); a listed block that is the base's own is not
trained twice. Keys only some blocks take (docs/family.md) follow the block: the base's value
where the new block takes the key and the base had one, else ModelConfig's default
(hidden_ratio 0.5 as ultralytics, shortcut on, c3k off; fusion ``full``, CSPNet's default,
for the ``csp`` block; γ 0.5 where the base's stage had no split).
NOTE: so a ``csp`` variant of a C2f base is CSPNet's full fusion, and a C3k2 variant uses
bottleneck units (c3k off) unless the base's block was a C3k2 with C3k units.
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
from cspsearch.space.blocks import param_names
from cspsearch.space.blocks import trial_params
from cspsearch.space.configs import BLOCK_ONLY
from cspsearch.space.configs import BLOCKS
from cspsearch.space.configs import ModelConfig
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import SearchSpace

REFERENCE = "base"
FOLLOWS_BLOCK = (*BLOCK_ONLY, "split_ratio")  # keys whose value depends on the stage's block
FIXED_HINT = "a block ablation base needs every value fixed but block (or ablate a STUDY)"


@dataclass(frozen=True)
class BlockGrid:
    """The listed blocks against the base's own, each trained with ``seeds`` seeds."""

    blocks: tuple[str, ...] = ("c3", "c2f", "c3k2", "elan", "gelan")
    seeds: int = 3
    reference: str = REFERENCE
    kind: str = "block"
    detection: bool = False

    @classmethod
    def make(cls, blocks: Sequence[str], seeds: int = 3, detection: bool = False) -> BlockGrid:
        """A validated grid; SpaceError names an unknown block or a bad seed count."""
        for b in blocks:
            if b not in BLOCKS:
                raise SpaceError(f"--block: unknown block {b!r} (one of {', '.join(BLOCKS)})")
        check_seeds(seeds)
        kept = tuple(dict.fromkeys(blocks))
        if not kept:
            raise SpaceError("--block: give at least one block, e.g. c3,c2f")
        return cls(blocks=kept, seeds=seeds, detection=detection)

    def labels(self) -> list[str]:
        return [REFERENCE, *self.blocks]

    def make_space(self, space: SearchSpace, stages: tuple[int, ...] | None) -> SearchSpace:
        """``space`` with the block a choice of every block and the seed the grid's; each key
        that follows the block keeps its choices plus the default a variant may fill in."""
        family = space.model.get("family", ModelConfig.family)
        if family != "csp_yolo":
            raise SpaceError(
                f"--block: {space.source}: model.family: {family!r} has no block to vary "
                "(a csp_yolo space has: cspsearch run --space csp_yolo)"
            )
        if isinstance(space.model.get("block"), tuple):
            raise SpaceError(
                f"--block: {space.source}: model.block: one block per stage cannot be ablated "
                "yet; give one block for every stage"
            )
        model = dict(space.model, block=Choice(BLOCKS))
        for key in FOLLOWS_BLOCK:
            if key in model:
                model[key] = _with_default(model[key], getattr(ModelConfig, key))
        return with_seeds(space, self.seeds, len(self.labels()), model=model)

    def base_params(self, space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
        """The searched values but the seed, and the base's own block (fixed or searched):
        two trials with different blocks are two bases."""
        searched = space.searched()
        own = {"block": space.model.get("block", ModelConfig.block)}
        return {**own, **{k: v for k, v in params.items() if k in searched and k != "seed"}}

    def check_fixed(self, space: SearchSpace) -> None:
        searched_unless(space, _ablated, FIXED_HINT)

    def cells(self, space: SearchSpace, bases: list[Base]) -> list[Cell]:
        out = []
        for base in bases:
            own = base.params.get("block", space.model.get("block"))
            for label in self.labels():
                if label == own:
                    continue  # the base itself: its reference row
                for seed in seed_values(space):
                    block = {} if label == REFERENCE else {"block": label}
                    given = {**base.params, **block, **seed_params(space, seed)}
                    out.append(Cell(base.name, label, seed, filled(space, given)))
        return out


def _ablated(key: str) -> bool:
    return key in ("block", "seed") or key.rpartition("_")[0] == "block"


def _with_default(value: Any, default: Any) -> Any:
    """A Choice (or per-stage Choices) with ``default`` among its choices."""
    if isinstance(value, tuple):
        return tuple(_with_default(v, default) for v in value)
    if isinstance(value, Choice) and default not in value.choices:
        return Choice((*value.choices, default))
    return value


def filled(space: SearchSpace, given: dict[str, Any]) -> dict[str, Any]:
    """The parameters a cell's trial of ``space`` asks for (space/blocks.py's trial_params for
    the cell's block), each ``given``'s value; a key that follows the block and that the base
    did not have takes ModelConfig's default. Every other asked value is given (the base's own
    searched values, the seed): KeyError names one that is not."""
    asked = trial_params(space.model, given)
    for key, value in space.train.items():
        asked.update(dict.fromkeys(param_names(key, value), key))
    out = {}
    for name, key in asked.items():
        if name not in given and key not in FOLLOWS_BLOCK:
            raise KeyError(name)
        out[name] = given.get(name, getattr(ModelConfig, key, None))
    return out
