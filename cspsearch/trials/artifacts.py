"""Per-trial files for optuna-dashboard: each trained trial uploads its config, its MACs per
stage and operator, its learning curve and (unless ``--no-keep-weights``) its final weights
(``trialN_weights.pt``, the last seed's state dict, which ``cspsearch export --onnx`` exports)
to an Optuna artifact store (a folder, default ``reports/artifacts``, that ``cspsearch
dashboard`` serves with the study).
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path
from typing import Any

import optuna

DEFAULT_ARTIFACTS = Path("reports/artifacts")


def artifact_store(folder: str | Path | None = None) -> Any:
    from optuna.artifacts import FileSystemArtifactStore

    path = Path(folder or DEFAULT_ARTIFACTS)
    path.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(str(path))


WEIGHTS = "weights.pt"  # a trial's final weights: trial{number}_weights.pt in the store


def upload_trial_artifacts(
    trial: optuna.Trial, attrs: dict[str, Any], store: Any, weights: Any | None = None
) -> None:
    """Upload config.json, macs.json, learning_curve.csv and, given a network, weights.pt."""
    from optuna.artifacts import upload_artifact

    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "config.json": json.dumps(attrs["config"], indent=1),
            "macs.json": json.dumps(
                {
                    k: attrs[k]
                    for k in (
                        "macs",
                        "flops",
                        "params",
                        "input_size",
                        "macs_by_part",  # detection: backbone / neck / head
                        "macs_by_stage",
                        "macs_by_operator",
                        "unsupported_ops",
                        "anchors",
                    )
                    if k in attrs
                },
                indent=1,
            ),
            "learning_curve.csv": _curve_csv(attrs),
        }
        for name, text in files.items():
            path = Path(tmp) / f"trial{trial.number}_{name}"
            path.write_text(text, encoding="utf-8")
            upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=trial)
        if weights is not None:
            import torch

            path = Path(tmp) / f"trial{trial.number}_{WEIGHTS}"
            torch.save({k: v.detach().cpu() for k, v in weights.state_dict().items()}, path)
            upload_artifact(artifact_store=store, file_path=str(path), study_or_trial=trial)


def _curve_csv(attrs: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if "val_ap50_curve" in attrs:  # a detection trial (one seed)
        writer.writerow(["epoch", "val_ap50", "val_ap", "train_loss"])
        curves = zip(attrs["val_ap50_curve"], attrs["val_ap_curve"], attrs["train_loss_curve"])
        for epoch, values in enumerate(curves, start=1):
            writer.writerow([epoch, *values])
        return out.getvalue()
    writer.writerow(["seed", "epoch", "val_accuracy", "train_loss"])
    for run in attrs.get("seed_results", []):
        curves = zip(run["val_accuracy_curve"], run["train_loss_curve"])
        for epoch, (acc, loss) in enumerate(curves, start=1):
            writer.writerow([run["seed"], epoch, acc, loss])
    return out.getvalue()
