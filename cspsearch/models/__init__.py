"""Model families: ModelConfig → nn.Module (registry.py), one generic CSP stage
(csp_stage.py) with the shared layers (layers.py) and each family's blocks (densenet.py,
peleenet.py; blocks.py and backbones.py for ResNet, ResNeXt and DarkNet); named presets
(presets.py); necks and the detector for detection (necks.py, detector.py). The csp_yolo
family (yolo.py) picks each stage's block from the darknet CSP stage and ultralytics' YOLO
blocks (yolo_blocks.py), with their tails and heads (yolo_parts.py) and presets equal to
ultralytics' models (yolo_presets.py)."""

from __future__ import annotations

from cspsearch.models import backbones  # noqa: F401  (registers its families)
from cspsearch.models import densenet  # noqa: F401  (registers its family)
from cspsearch.models import peleenet  # noqa: F401  (registers its family)
from cspsearch.models import yolo  # noqa: F401  (registers its family)
from cspsearch.models.registry import FAMILIES
from cspsearch.models.registry import build_model
from cspsearch.models.registry import register_family

__all__ = ["FAMILIES", "build_model", "register_family"]
