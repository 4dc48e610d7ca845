"""``cspsearch model list|show|ablation``: named architectures and what one costs."""

from __future__ import annotations

import typer

from cspsearch.cli.app import app
from cspsearch.cli.app import user_errors

model_app = typer.Typer(help="Named architectures, and what one costs.")
app.add_typer(model_app, name="model")


@model_app.command("list")
def model_list() -> None:
    """The named architectures (timm's reference configs, ultralytics' YOLO models)."""
    from cspsearch.models.presets import PRESETS

    for name, (cfg, size) in PRESETS.items():
        kind = "fusion " + "/".join(sorted(set(cfg.fusion)))
        if cfg.family == "csp_yolo":  # its stages differ by block, not by fusion
            kind = "block " + "/".join(dict.fromkeys(cfg.block))
        typer.echo(f"{name:<14} {cfg.family:<12} {cfg.num_stages} stages, {kind}, {size}×{size}")


@model_app.command("ablation")
def model_ablation(
    json_out: bool = typer.Option(False, "--json", help="A JSON list of rows instead of a table."),
) -> None:
    """The CSPNet paper's PeleeNet ablation in compute: each CSP variant against PeleeNet."""
    import json
    from dataclasses import asdict

    from cspsearch.measure.paper_compute import format_rows
    from cspsearch.measure.paper_compute import paper_compute_rows

    rows = paper_compute_rows()
    typer.echo(json.dumps([asdict(r) for r in rows]) if json_out else format_rows(rows))


@model_app.command("show")
def model_show(
    name: str = typer.Argument(..., help="A preset (cspsearch model list) or a space file."),
    input_size: int | None = typer.Option(None, min=8, help="Default: the preset's or space's."),
    classes: int | None = typer.Option(None, min=1, help="Default: 1000 (presets), 10 (files)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object instead of a table."),
    latency: bool = typer.Option(True, help="Time it too (ImageNet sizes take a while on CPU)."),
) -> None:
    """Parameters, MACs, FLOPs, activations, latency and MACs per stage of one architecture."""
    with user_errors():
        import json
        from dataclasses import asdict

        from cspsearch.measure.latency import measure_latency
        from cspsearch.measure.macs import count_macs
        from cspsearch.models import build_model
        from cspsearch.models.presets import resolve
        from cspsearch.training.device import pick_device

        label, cfg, size = resolve(name, input_size, classes)
        model = build_model(cfg)
        report = count_macs(model, size, cfg.in_chans)
        # The backbone is the network without its head (a detector's backbone: stem, stages).
        backbone = {}
        if hasattr(model, "head"):
            head_params = sum(p.numel() for p in model.head.parameters())
            backbone = {
                "backbone_params": report.params - head_params,
                "backbone_macs": report.macs - report.by_stage.get("head", 0),
            }
        device = pick_device("auto")
        timed = measure_latency(model.to(device), size, cfg.in_chans, device) if latency else {}
        if json_out:
            shown = {
                "name": label,
                "family": cfg.family,
                "num_classes": cfg.num_classes,
                **asdict(report),
                **backbone,
                "device": device,
                **timed,
            }
            typer.echo(json.dumps(shown))
            return
        typer.echo(f"{label} ({cfg.family}) at {size}×{size}, {cfg.num_classes} classes")
        typer.echo(f"params {report.params:,} ({report.params_no_bn:,} without BatchNorm)")
        typer.echo(
            f"MACs {report.macs / 1e9:.3f} G, FLOPs {report.flops / 1e9:.3f} G "
            "(fvcore: 1 multiply-add = 1 MAC; FLOPs = 2 × MACs)"
        )
        if backbone:
            typer.echo(
                f"backbone (without the head) params {backbone['backbone_params']:,}, "
                f"MACs {backbone['backbone_macs'] / 1e9:.3f} G"
            )
        typer.echo(f"activations {report.activations:,} (fvcore)")
        if timed:
            typer.echo(
                f"latency on {device}: {timed['latency']:.2f} ms at batch 1, "
                f"{timed['latency_b32']:.2f} ms at batch 32 (median)"
            )
        for part, macs in report.by_stage.items():
            typer.echo(f"  {part:<10} {macs / 1e6:>12,.2f} MMACs {100 * macs / report.macs:6.1f}%")
