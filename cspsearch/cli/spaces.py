"""``cspsearch spaces [show]`` and ``cspsearch data make-shapes``."""

from __future__ import annotations

from pathlib import Path

import typer

from cspsearch.cli.app import app
from cspsearch.cli.app import user_errors

spaces_app = typer.Typer(help="List the bundled search spaces, or show one.")
app.add_typer(spaces_app, name="spaces")


@spaces_app.callback(invoke_without_command=True)
def spaces(ctx: typer.Context) -> None:
    """List the bundled search spaces with their sizes."""
    if ctx.invoked_subcommand is not None:
        return
    from cspsearch.space.loader import bundled_spaces
    from cspsearch.space.loader import load_space

    for name in bundled_spaces():
        space = load_space(name)
        typer.echo(f"{name:<20} {_size(space.size()):>14}  {space.description.splitlines()[0]}")


@spaces_app.command("show")
def spaces_show(name: str = typer.Argument(..., help="Bundled space name or path.")) -> None:
    """Print a space file and its size."""
    with user_errors():
        from cspsearch.space.loader import load_space

        space = load_space(name)
        typer.echo(f"# {space.source}")
        typer.echo(Path(space.source).read_text(encoding="utf-8").rstrip())
        searched = ", ".join(space.searched()) or "nothing"
        typer.echo(f"# searched: {searched}")
        typer.echo(f"# size: {_size(space.size())}")


def _size(size: int | None) -> str:
    return "continuous" if size is None else f"{size:,} combinations"


data_app = typer.Typer(help="Datasets: generate the synthetic detection data.")
app.add_typer(data_app, name="data")


@data_app.command("make-shapes")
def data_make_shapes(
    out_dir: Path = typer.Argument(..., help="New (or empty) folder to write."),
    images: int = typer.Option(800, min=1, help="Number of images."),
    size: int = typer.Option(64, min=32, max=1024, help="Image side in pixels."),
    seed: int = typer.Option(0, min=0, help="Same seed, same dataset."),
) -> None:
    """Write a synthetic shapes detection dataset: PNG images + annotations.json (COCO)."""
    with user_errors():
        import json

        from cspsearch.detection.shapes import make_shapes

        path = make_shapes(out_dir, images, size, seed)
        objects = len(json.loads(path.read_text(encoding="utf-8"))["annotations"])
        typer.echo(f"{path}: {images} images, {objects} objects")
