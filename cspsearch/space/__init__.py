"""The search space, first step of the data flow: a space file → a validated, frozen SearchSpace
(searchspace.py; read by loader.py, parse.py, rules.py) → one trial's configs (sampling.py, the
only caller of ``trial.suggest_*``). configs.py holds every config dataclass and the only copy
of each name the package accepts; blocks.py which keys each stage block takes; paper.py the
CSPNet paper's PeleeNet numbers. No torch here."""

from cspsearch.space.configs import DataConfig
from cspsearch.space.configs import DetectorConfig
from cspsearch.space.configs import ModelConfig
from cspsearch.space.configs import StudyConfig
from cspsearch.space.configs import TrainConfig
from cspsearch.space.loader import load_space
from cspsearch.space.searchspace import SearchSpace

__all__ = [
    "DataConfig",
    "DetectorConfig",
    "ModelConfig",
    "SearchSpace",
    "StudyConfig",
    "TrainConfig",
    "load_space",
]
