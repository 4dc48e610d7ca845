"""Which model keys a stage's block takes (configs.BLOCK_KEYS, docs/family.md): the check of a
space file's ``model`` section — a key that no possible block of a stage takes is an error, as
are csp_yolo's keys in another family — and the conditional values of a trial (sampling.py
suggests no parameter a stage's block does not take, like split_ratio without a split);
``trial_params`` names the parameters a trial asks for once its block and fusion are known."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cspsearch.errors import SpaceError
from cspsearch.space.configs import BLOCK_KEYS
from cspsearch.space.configs import BLOCK_ONLY
from cspsearch.space.configs import YOLO_ONLY
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import block_takes
from cspsearch.space.searchspace import Choice
from cspsearch.space.searchspace import SearchSpace
from cspsearch.space.searchspace import is_spec


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


def unfused_as_default(value: Any, fusion: Any, num_stages: int) -> Any:
    """``value`` of split_ratio with the (unused) default for every unfused stage."""
    fusions = fusion if isinstance(fusion, tuple) else (fusion,) * num_stages
    if all(f == "none" for f in fusions):
        return ModelConfig.split_ratio
    if not isinstance(value, tuple):
        return value
    return tuple(ModelConfig.split_ratio if f == "none" else v for f, v in zip(fusions, value))


def draw_order(key: str) -> int:
    """A trial draws ``block`` first (it decides what else is asked), ``split_ratio`` last
    (after ``fusion``, which decides whether a stage is split)."""
    return 0 if key == "block" else 2 if key == "split_ratio" else 1


def param_names(key: str, value: Any) -> list[str]:
    """The parameters a trial suggests for ``value``: ``key`` for a Choice or Range, ``key_i``
    for each searched stage of a per-stage value, none for a fixed value."""
    if isinstance(value, tuple):
        return [n for i, v in enumerate(value) for n in param_names(f"{key}_{i}", v)]
    return [key] if is_spec(value) else []


def trial_params(model: dict[str, Any], drawn: Mapping[str, Any]) -> dict[str, str]:
    """Parameter name → model key of every parameter that a trial of a space with this
    ``model`` section asks for, in sampling.py's order: not a key the trial's block does not
    take, nor the split ratio of an unfused stage. The block, fusion and num_stages that decide
    it are ``drawn``'s values where they are searched (ModelConfig's default where missing)."""

    def value(key: str) -> Any:
        return _drawn(key, model.get(key, getattr(ModelConfig, key)), drawn, key)

    block = value("block")
    out: dict[str, str] = {}
    for key in sorted(model, key=draw_order):
        spec = model[key]
        if key in BLOCK_ONLY:
            spec = untaken_as_default(key, spec, block)
        if key == "split_ratio":
            fusion = untaken_as_default("fusion", value("fusion"), block)
            spec = unfused_as_default(spec, fusion, value("num_stages"))
        out.update(dict.fromkeys(param_names(key, spec), key))
    return out


def _drawn(name: str, value: Any, drawn: Mapping[str, Any], key: str) -> Any:
    """``value`` with each searched entry replaced by the drawn one (named as param_names)."""
    if isinstance(value, tuple):
        return tuple(_drawn(f"{name}_{i}", v, drawn, key) for i, v in enumerate(value))
    return drawn.get(name, getattr(ModelConfig, key)) if is_spec(value) else value
