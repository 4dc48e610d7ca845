"""Which model keys a stage's block takes (configs.BLOCK_KEYS, docs/family.md): the check of a
space file's ``model`` section — a key that no possible block of a stage takes is an error, as
are csp_yolo's keys in another family — and the conditional values of a trial (sampling.py
suggests no parameter a stage's block does not take, like split_ratio without a split)."""

from __future__ import annotations

from typing import Any

from cspsearch.errors import SpaceError
from cspsearch.space.configs import BLOCK_KEYS
from cspsearch.space.configs import BLOCK_ONLY
from cspsearch.space.configs import YOLO_ONLY
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import block_takes
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import SearchSpace


def _options(value: Any) -> tuple:
    return value.choices if isinstance(value, Choice) else (value,)


def stage_blocks(block: Any, stages: int) -> list[tuple]:
    """Each stage's possible blocks (a fixed block, a Choice, or one of those per stage)."""
    per = block if isinstance(block, tuple) else (block,) * stages
    return [_options(b) for b in per]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_blocks(space: SearchSpace) -> None:
    """Raise SpaceError (one line: file, key, value) for a key no possible block takes."""
    model, source = space.model, space.source
    families = _options(model.get("family", ModelConfig.family))
    block = model.get("block", ModelConfig.block)
    widest = max((len(v) for v in model.values() if isinstance(v, tuple)), default=1)
    blocks = stage_blocks(block, widest)
    if any(f != "csp_yolo" for f in families):
        for key in ("block", *YOLO_ONLY):
            # csp_yolo's own keys at their defaults say nothing (an exported config has all)
            if key == "block":
                named = any(b != "csp" for s in blocks for b in s)
            else:
                named = key in model and model[key] != getattr(ModelConfig, key)
            if named:
                raise SpaceError(
                    f"{source}: model.{key}: {_show(model[key])} is taken by family csp_yolo "
                    f"only (family is {'/'.join(families)})"
                )
    for key in BLOCK_ONLY:
        if key not in model:
            continue
        value, default = model[key], getattr(ModelConfig, key)
        takers = ", ".join(b for b, keys in BLOCK_KEYS.items() if key in keys)
        if isinstance(value, tuple):
            for i, v in enumerate(value):
                if v != default and not any(block_takes(b, key) for b in blocks[i]):
                    raise SpaceError(
                        f"{source}: model.{key}[{i}]: {_show(v)} is not taken by block "
                        f"{'/'.join(blocks[i])} of stage {i} (only {takers} take it)"
                    )
        elif not any(block_takes(b, key) for s in blocks for b in s):
            names = "/".join(dict.fromkeys(b for s in blocks for b in s))
            raise SpaceError(
                f"{source}: model.{key}: {_show(value)} is not taken by block {names} "
                f"(only {takers} take it)"
            )


def may_split_unfused(model: dict[str, Any]) -> bool:
    """Whether some stage may have a yolo block, which splits whatever ``fusion`` says."""
    blocks = stage_blocks(model.get("block", ModelConfig.block), 1)
    return any(b != "csp" for s in blocks for b in s)


def untaken_as_default(key: str, value: Any, block: Any) -> Any:
    """``value`` with the default where the trial's block does not take ``key`` (a
    conditional parameter: not suggested, the config keeps its default)."""
    default = getattr(ModelConfig, key)
    if isinstance(value, tuple):
        blocks = stage_blocks(block, len(value))
        return tuple(v if block_takes(b[0], key) else default for v, b in zip(value, blocks))
    blocks = block if isinstance(block, tuple) else (block,)
    return value if any(block_takes(b, key) for b in blocks) else default
