"""Tasks as plug-ins: what differs between classification, detection, … and a registry of them.

A task is a package ``cspsearch/<name>/`` whose ``task`` module registers a ``Task``; the
space's dataset names the task (``DATASET_TASKS`` in cspsearch/space/configs.py) and
``get_task`` imports its module on first use, so the search imports no task itself. Adding a
task means one new folder (and its datasets in the configs).

A task answers four questions; the search (sampling order, duplicates, budgets, seeds, storage)
and the training loop (cspsearch/training/loop.py) do the rest:

- ``load_data``: the dataset on the device;
- ``sample``: the trial's network (an ``Arch``: its configs and a builder);
- ``hooks``: its batches, the loss of a batch and its evaluation, for the one training loop;
- ``measure`` (optional): MACs, parameters and latency (when the search scores or limits it),
  counted once per architecture.
"""

from __future__ import annotations

import importlib
import warnings
from abc import ABC
from abc import abstractmethod
from collections.abc import Callable
from collections.abc import Hashable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar

import optuna
from torch import nn

from cspsearch.errors import SpaceError
from cspsearch.measure.latency import measure_latency
from cspsearch.measure.macs import count_macs
from cspsearch.space.configs import DATASET_TASKS
from cspsearch.space.configs import TrainConfig
from cspsearch.space.searchspace import SearchSpace
from cspsearch.training.loop import TaskHooks


@dataclass(frozen=True)
class Arch:
    """One trial's network before training."""

    key: Hashable  # identifies the architecture: MACs and latency are measured once per key
    config: dict[str, Any]  # JSON-ready configs stored with the trial (the train config apart)
    train: TrainConfig
    build: Callable[[], nn.Module]  # a freshly initialised network (the caller seeds torch)
    input_size: int
    in_chans: int
    attrs: dict[str, Any] = field(default_factory=dict)  # extra user attributes (options)


class Task(ABC):
    """One kind of learning problem (see the module docstring)."""

    name: ClassVar[str]
    figures: ClassVar[tuple[str, ...]]  # evaluation figures recorded per epoch and on test
    copied: ClassVar[tuple[str, ...]] = ()  # attributes a duplicate trial copies, beyond these

    @abstractmethod
    def load_data(self, space: SearchSpace, device: str) -> Any:
        """The dataset on ``device`` (cached: every trial of a process shares it)."""

    @abstractmethod
    def sample(self, space: SearchSpace, trial: optuna.Trial, data: Any) -> Arch:
        """The trial's network: every ``trial.suggest_*`` goes through cspsearch.space.sampling."""

    @abstractmethod
    def hooks(self, model: nn.Module, data: Any, arch: Arch) -> TaskHooks:
        """Batches, loss and evaluation of ``model`` on ``data`` for the training loop."""

    def measure(
        self, model: nn.Module, arch: Arch, device: str, latency: bool = True
    ) -> dict[str, Any]:
        """MACs, parameters (cspsearch/measure/macs.py) and, with ``latency``, the latency of
        the untrained network."""
        size, chans = arch.input_size, arch.in_chans
        timed = measure_latency(model.to(device), size, chans, device) if latency else {}
        return {**count_macs(model, size, chans).attrs(), **timed}

    def test_attrs(self, tests: list[dict[str, float]]) -> dict[str, Any]:
        """Extra attributes from each seed's test figures (none unless a task adds some)."""
        return {}


TASKS: dict[str, Task] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: register one instance of ``cls`` under ``cls.name``."""
    if cls.name in TASKS:
        warnings.warn(f"task {cls.name!r} registered twice", stacklevel=2)
    TASKS[cls.name] = cls()
    return cls


def get_task(name: str) -> Task:
    """The task called ``name``, importing ``cspsearch.<name>.task`` on first use."""
    if name not in TASKS:
        if name not in set(DATASET_TASKS.values()):
            known = ", ".join(sorted(set(DATASET_TASKS.values())))
            raise SpaceError(f"unknown task {name!r} (known: {known})")
        importlib.import_module(f"cspsearch.{name}.task")
    return TASKS[name]
