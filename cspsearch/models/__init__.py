"""Model families: ModelConfig → nn.Module (registry.py), one generic CSP stage
(csp_stage.py) and each family's blocks; necks and the detector for detection."""

from __future__ import annotations

from cspsearch.models import backbones  # noqa: F401  (registers its families)
from cspsearch.models import densenet  # noqa: F401  (registers its family)
from cspsearch.models import peleenet  # noqa: F401  (registers its family)
from cspsearch.models.registry import FAMILIES
from cspsearch.models.registry import build_model
from cspsearch.models.registry import register_family

__all__ = ["FAMILIES", "build_model", "register_family"]
