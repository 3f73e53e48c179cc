"""make-images: write a learnable image folder to try the streamed ``imagefolder`` path at any scale."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from raylife.cli.common import console
from raylife.report.format import size as size_bytes


def make_images(
    path: Annotated[Path, typer.Argument(help="A new (or empty) folder to write PATH/<class>/<n>.jpg into.")],
    classes: Annotated[int, typer.Option(min=2, max=100_000, help="Class folders.")] = 10,
    per_class: Annotated[int, typer.Option(min=1, max=10_000_000, help="Images per class.")] = 100,
    size: Annotated[int, typer.Option(min=8, max=4096, help="Width and height in pixels.")] = 64,
    image_format: Annotated[str, typer.Option("--format", help="jpg or png.")] = "jpg",
    seed: Annotated[int, typer.Option(help="The same seed writes the same files.")] = 0,
) -> None:
    """Write a learnable image folder (a stripe pattern and tint per class, random phase, contrast and noise per
    image) for `format = "imagefolder"`: nothing is downloaded."""
    from raylife.workloads.vision.make_images import decoded_size, write_image_folder

    with Progress(TextColumn("writing images"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task("images", total=classes * per_class)
        written = write_image_folder(path, classes, per_class, size, seed, image_format,
                                     on_progress=lambda done, _: progress.update(task, completed=done))
    console.print(
        f"[green]✓[/] {written.files:,} images in {written.classes} class folders under {written.root} "
        f"({size_bytes(written.bytes)} on disk, {size_bytes(decoded_size(written.files, size))} decoded as float32) "
        f"in {written.seconds:.1f} s"
    )
    console.print(escape(f'  use: [data] format = "imagefolder", path = "{written.root.resolve()}", '
                         f'options = {{ size = {size} }}'))
