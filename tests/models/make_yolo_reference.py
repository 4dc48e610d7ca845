"""Writes yolo_reference.json: the structure lines (structure.py) of ultralytics' own model for
each of the ten csp_yolo presets (cspsearch/models/yolo_presets.py), which
test_yolo_structure.py compares with the presets as cspsearch builds them.

Run by hand in the reference venv, never by the tests (the project does not depend on
ultralytics), from the repository root:

    bash ../shared/tools/reference-venv.sh /tmp/reference-venv
    YOLO_OFFLINE=1 /tmp/reference-venv/bin/python tests/models/make_yolo_reference.py

The models are built as test_yolo_presets.py counts them: ClassificationModel(f"{name}.yaml",
nc=1000) whole for the -cls presets; for the detectors, DetectionModel(f"{name}.yaml", nc=80)
and nn.Sequential of the layers of its YAML's ``backbone:`` section. Each is traced once in
eval mode on a 1 × 3 × 64 × 64 input (the structure does not depend on the size). The blocks
and parts that test_yolo.py counts (``parts``) are traced on 1 × c × 16 × 16.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.models.structure import signature  # noqa: E402

CLASSIFIERS = ("yolov8n-cls", "yolov8s-cls", "yolo11n-cls", "yolo11s-cls")
DETECTORS = ("yolov5nu", "yolov8n", "yolov8s", "yolo11n", "yolo11s", "yolov9t")
SIZE = 64
PART_SIZE = 16
OUT = Path(__file__).with_name("yolo_reference.json")


def parts() -> dict[str, tuple[nn.Module, int]]:
    """ultralytics' modules as test_yolo.py's OURS builds them in the project's terms: name →
    (module, input channels). SPPF is given back the activation on its first 1×1, as
    ultralytics' parse_model does for every YAML with a preset here (its class is YOLO26's)."""
    from ultralytics.nn.modules import C2PSA
    from ultralytics.nn.modules import C3
    from ultralytics.nn.modules import ELAN1
    from ultralytics.nn.modules import SPPELAN
    from ultralytics.nn.modules import SPPF
    from ultralytics.nn.modules import AConv
    from ultralytics.nn.modules import C2f
    from ultralytics.nn.modules import C3k2
    from ultralytics.nn.modules import Classify
    from ultralytics.nn.modules import Conv
    from ultralytics.nn.modules import RepNCSPELAN4

    sppf = SPPF(32, 32, 5)
    sppf.cv1.act = Conv.default_act
    return {
        "c3": (C3(16, 32, 2, True), 16),
        "c3_e025_noshortcut": (C3(16, 32, 1, False, e=0.25), 16),
        "c2f": (C2f(16, 32, 2, True), 16),
        "c2f_default": (C2f(16, 32, 2), 16),  # the class's default: no shortcut
        "c2f_e025_noshortcut": (C2f(16, 32, 1, False, e=0.25), 16),
        "c3k2_e025": (C3k2(16, 32, 2, False, 0.25), 16),
        "c3k2_c3k": (C3k2(16, 32, 1, True), 16),
        "elan1": (ELAN1(16, 32, 32, 16), 16),
        "repncspelan4": (RepNCSPELAN4(16, 32, 32, 16, 2), 16),
        "sppf": (sppf, 32),
        "c2psa_128": (C2PSA(128, 128, 1), 128),
        "c2psa_256x2": (C2PSA(256, 256, 2), 256),
        "aconv": (AConv(16, 32), 16),
        "sppelan": (SPPELAN(32, 32, 16), 32),
        "classify": (Classify(32, 10), 32),
    }


def reference(name: str) -> nn.Module:
    from ultralytics.nn.tasks import ClassificationModel
    from ultralytics.nn.tasks import DetectionModel

    if name in CLASSIFIERS:
        return ClassificationModel(f"{name}.yaml", nc=1000, verbose=False)
    model = DetectionModel(f"{name}.yaml", nc=80, verbose=False)
    last = len(model.yaml["backbone"]) - 1
    return nn.Sequential(*model.model[: last + 1])


def main() -> None:
    import ultralytics

    warnings.filterwarnings("ignore")
    models = {name: signature(reference(name), 3, SIZE) for name in CLASSIFIERS + DETECTORS}
    made = {
        "made_by": "tests/models/make_yolo_reference.py",
        "ultralytics": ultralytics.__version__,
        "torch": torch.__version__,
        "input": [1, 3, SIZE, SIZE],
        "models": models,
        "parts_input": [1, "channels", PART_SIZE, PART_SIZE],
        "parts": {name: signature(m, c, PART_SIZE) for name, (m, c) in parts().items()},
    }
    OUT.write_text(json.dumps(made, indent=1) + "\n", encoding="utf-8")
    print(OUT, {name: len(lines) for name, lines in made["parts"].items()})


if __name__ == "__main__":
    main()
